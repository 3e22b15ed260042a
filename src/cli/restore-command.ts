// `titan restore`: confirms, starts the redisRestore workflow (one per target at a time), follows
// its progress and prints what was restored and how long each step took.
import { createInterface } from 'node:readline/promises';
import type { Client } from '@temporalio/client';
import { onRedisHost } from '../lib/hosts';
import { Kind, WorkflowId } from '../lib/names';
import { type LoadedEnvironment, requireRedisInstance } from '../load-environment';
import type { RedisRestoreInput, RedisRestoreResult } from '../workflows/redis-restore';
import { humanBytes, table } from './output';
import { runWorkflow } from './start-workflow';

export interface RestoreOptions extends RedisRestoreInput {
  yes: boolean;
  json: boolean;
}

export async function restoreCommand(client: Client, loaded: LoadedEnvironment, opts: RestoreOptions) {
  requireRedisInstance(loaded, opts.redis);
  const target = opts.target ?? opts.redis;
  const instance = requireRedisInstance(loaded, target);
  if (opts.before !== undefined && Number.isNaN(Date.parse(opts.before))) throw new Error(`--before "${opts.before}" is not a date and time (use ISO 8601, e.g. 2026-11-25T09:00:00Z)`);
  if (opts.backupId && opts.before) throw new Error('--backup and --before exclude each other');
  const which = opts.backupId ?? (opts.before ? `the latest valid backup before ${opts.before}` : 'the latest valid backup');
  await confirm(opts.yes, target, `Restore ${which} of Redis ${opts.redis} into Redis ${target} (${instance.url})? This stops it and replaces its data.`);

  await runWorkflow(client, loaded, {
    workflow: 'redisRestore',
    workflowId: WorkflowId.restore(loaded.env, target),
    args: [{ redis: opts.redis, backupId: opts.backupId, before: opts.before, target: opts.target, ...onRedisHost(loaded.env, target) }],
    summary: `Restore ${which} of Redis ${opts.redis} into ${target}`,
    kind: Kind.restore,
    exclusive: `a restore into Redis ${target}`,
    label: 'restore',
  }, { json: opts.json, describe: describeRestore });
}

function describeRestore(r: RedisRestoreResult): string {
  const total = r.steps.reduce((a, s) => a + s.ms, 0);
  const v = r.verification;
  const counts = Object.entries(v.counts ?? {}).map(([db, c]) => `db${db} ${c.restored.keys} keys${c.expiredSince ? ` (${c.expiredSince} expired since the snapshot)` : ''}`);
  return [
    `restored ${r.backup.backupId} (${humanBytes(r.backup.bytes)}, taken ${r.backup.createdAt}, from ${r.backup.location}${r.backup.resumedAt ? `, resumed at ${humanBytes(r.backup.resumedAt)}` : ''}) into Redis ${r.target} in ${(total / 1000).toFixed(1)}s`,
    ...r.rejected.map((x) => `  skipped ${x.id} (${x.location}): ${x.problem}`),
    ...r.unreachable.map((u) => `  ${u.location} location unreachable: ${u.error}`),
    ...[...r.notes, ...v.notes].map((n) => `  note: ${n}`),
    table(r.steps.map((s) => ({ step: s.step, seconds: (s.ms / 1000).toFixed(2) }))),
    `verified: ${counts.join(', ') || 'no keys'}; ${v.samplesChecked - v.samplesExpired} sampled keys match${v.samplesExpired ? ` (${v.samplesExpired} expired)` : ''}; write/read probe ${v.probe ? 'ok' : 'FAILED'}`,
    `previous data kept in ${r.rollbackDir}`,
  ].join('\n');
}

/** Asks the operator to type the target's name, unless --yes; refuses when nobody can answer. */
async function confirm(yes: boolean, target: string, question: string): Promise<void> {
  if (yes) return;
  if (!process.stdin.isTTY) throw new Error(`refusing to restore without confirmation: pass --yes (${question.split('?')[0]})`);
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${question}\nType "${target}" to continue: `);
    if (answer.trim() !== target) throw new Error('restore cancelled');
  } finally {
    rl.close();
  }
}
