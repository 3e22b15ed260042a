// `titan backup`, `titan backups list`, `titan backups verify`.
import type { Client } from '@temporalio/client';
import { buildDeps } from '../deps';
import type { ObjectLock } from '../infra/backup-store';
import { type Verdict, verifyStoredBackup } from '../infra/backup-verify';
import type { RetentionClass } from '../lib/manifest';
import { Kind, WorkflowId } from '../lib/names';
import { type LoadedEnvironment, requireRedisInstance } from '../load-environment';
import { progressBar, humanAge, humanBytes, printResult, table } from './output';
import { onRedisHost } from '../lib/hosts';
import { runWorkflow, startWorkflow, type WorkflowStart } from './start-workflow';

export async function backupNow(client: Client, loaded: LoadedEnvironment, opts: { redis: string; retentionClass: RetentionClass; from?: string; json: boolean; wait: boolean }) {
  requireRedisInstance(loaded, opts.redis);
  if (opts.from !== undefined) requireRedisInstance(loaded, opts.from);
  const start: WorkflowStart<'redisBackup'> = {
    workflow: 'redisBackup',
    workflowId: WorkflowId.manualBackup(loaded.env, opts.redis, new Date()),
    args: [{ redis: opts.redis, retentionClass: opts.retentionClass, ...(opts.from && { from: opts.from }), ...onRedisHost(loaded.env, opts.from ?? opts.redis) }],
    summary: `Manual ${opts.retentionClass} backup of Redis ${opts.redis}${opts.from ? ` from its replica ${opts.from}` : ''}`,
    kind: Kind.backup,
  };
  if (!opts.wait) {
    const handle = await startWorkflow(client, loaded, start);
    return printResult(opts.json, { workflowId: handle.workflowId }, () => handle.workflowId);
  }
  await runWorkflow(client, loaded, { ...start, label: 'backup' }, {
    json: opts.json,
    describe: (r) => [
      `${r.backupId}  ${humanBytes(r.bytes)}  sha256 ${r.sha256.slice(0, 16)}…  in ${r.locations.join(', ')}`,
      ...r.retention.flatMap((x) => x.deleted.map((d) => `  retention (${x.location}): deleted ${d.id}: ${d.reason}`)),
      ...r.retention.flatMap((x) => (x.locked ?? []).map((d) => `  retention (${x.location}): kept ${d.id}: ${d.reason}`)),
    ].join('\n'),
  });
}

export async function listBackups(loaded: LoadedEnvironment, opts: { redis: string; json: boolean }) {
  type Row = { id: string; valid: boolean; unreadable?: boolean; keyId?: string; bytes?: number; createdAt?: string; retentionClass?: string; locations: string[]; locks: string[]; problems: string[] };
  const byId = new Map<string, Row>();
  for (const store of buildDeps(loaded).allStores) {
    for (const e of await store.list(opts.redis)) {
      const row: Row = byId.get(e.id) ?? { id: e.id, valid: false, locations: [], locks: [], problems: [] };
      row.keyId ??= e.manifest?.encryption?.keyId;
      if (e.unreadable) row.unreadable = true;
      if (e.lock) row.locks.push(`${store.name}: ${describeLock(e.lock)}`);
      if (e.lockProblem) row.problems.push(`${store.name}: ${e.lockProblem}`);
      if (e.problem) {
        row.problems.push(`${store.name}: ${e.problem}`);
        row.createdAt ??= e.lastModified?.toISOString();
      } else {
        row.valid = true;
        row.locations.push(store.name);
        Object.assign(row, { bytes: e.manifest!.bytes, createdAt: e.manifest!.createdAt, retentionClass: e.manifest!.retentionClass });
      }
      byId.set(e.id, row);
    }
  }
  const rows = [...byId.values()].sort((a, b) => b.id.localeCompare(a.id));
  printResult(opts.json, rows, () => rows.length === 0 ? `no backups of Redis ${opts.redis}` : table(rows.map((r) => ({
    id: r.id,
    valid: r.valid ? 'yes' : r.unreadable ? 'unreadable' : 'NO',
    size: r.bytes === undefined ? '-' : humanBytes(r.bytes),
    age: r.createdAt ? humanAge(new Date(r.createdAt)) : '-',
    class: r.retentionClass ?? '-',
    key: r.keyId ?? 'none',
    locations: r.locations.join(',') || '-',
    lock: r.locks.join('; ') || '-',
    problems: r.problems.join('; '),
  }))));
}

export async function verifyBackup(loaded: LoadedEnvironment, opts: { redis: string; id: string; json: boolean }): Promise<boolean> {
  const verdicts: Verdict[] = [];
  for (const store of buildDeps(loaded).allStores) {
    const bar = opts.json ? undefined : progressBar(`verify ${store.name}`);
    verdicts.push(await verifyStoredBackup(store, opts.redis, opts.id, (b, total) => bar?.update(b, total, '')));
    bar?.stop();
  }
  const key = (v: Verdict) => (v.keyId ? ` (key ${v.keyId})` : '');
  const lock = (v: Verdict) => (v.lockProblem ? `; LOCK: ${v.lockProblem}` : v.lock ? `; ${describeLock(v.lock)}` : '');
  printResult(opts.json, verdicts, () => verdicts.map((v) => `${v.location}: ${v.valid ? 'valid' : v.unreadable ? 'UNREADABLE' : 'INVALID'}${key(v)}${v.valid ? '' : `: ${v.problems.join('; ')}`}${lock(v)}`).join('\n'));
  return verdicts.every((v) => v.valid);
}

function describeLock(l: ObjectLock): string {
  return `${l.mode} until ${l.until.toISOString()}`;
}
