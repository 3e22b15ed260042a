// `titan backup`, `titan backups list`, `titan backups verify`.
import type { Client } from '@temporalio/client';
import { type Verdict, verifyStoredBackup } from '../activities/backup-verify';
import { buildDeps } from '../activities/deps';
import { type LoadedEnvironment, requireRedisInstance } from '../load-environment';
import type { RetentionClass } from '../lib/manifest';
import { SearchKey } from '../lib/shared';
import type { RedisBackupResult } from '../workflows/redis-backup';
import { byteProgress, followWithProgress, humanAge, humanBytes, printResult, table } from './output';

export async function backupNow(client: Client, loaded: LoadedEnvironment, opts: { redis: string; retentionClass: RetentionClass; json: boolean; wait: boolean }) {
  const { env } = loaded;
  requireRedisInstance(loaded, opts.redis);
  const handle = await client.workflow.start('redisBackup', {
    taskQueue: env.taskQueue,
    workflowId: `titan-${env.environment}-backup-${opts.redis}-manual-${new Date().toISOString().replace(/[-:.]/g, '')}`,
    args: [{ redis: opts.redis, retentionClass: opts.retentionClass }],
    staticSummary: `Manual ${opts.retentionClass} backup of Redis ${opts.redis} (${env.environment})`,
    typedSearchAttributes: [
      { key: SearchKey.environment, value: env.environment },
      { key: SearchKey.kind, value: 'backup' },
    ],
  });
  if (!opts.wait) return printResult(opts.json, { workflowId: handle.workflowId }, () => handle.workflowId);
  if (!opts.json) process.stderr.write(`backup workflow ${handle.workflowId} started\n`);
  const result = await followWithProgress<RedisBackupResult>(handle, opts.json, 'backup');
  printResult(opts.json, { workflowId: handle.workflowId, ...result }, () => {
    const deleted = result.retention.flatMap((r) => r.deleted.map((d) => `  retention (${r.location}): deleted ${d.id}: ${d.reason}`));
    return [`${result.backupId}  ${humanBytes(result.bytes)}  sha256 ${result.sha256.slice(0, 16)}…  in ${result.locations.join(', ')}`, ...deleted].join('\n');
  });
}

export async function listBackups(loaded: LoadedEnvironment, opts: { redis: string; json: boolean }) {
  const byId = new Map<string, { id: string; valid: boolean; bytes?: number; createdAt?: string; retentionClass?: string; locations: string[]; problems: string[] }>();
  for (const store of buildDeps(loaded).allStores) {
    for (const e of await store.list(opts.redis)) {
      const row = byId.get(e.id) ?? { id: e.id, valid: false, locations: [], problems: [] };
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
    valid: r.valid ? 'yes' : 'NO',
    size: r.bytes === undefined ? '-' : humanBytes(r.bytes),
    age: r.createdAt ? humanAge(new Date(r.createdAt)) : '-',
    class: r.retentionClass ?? '-',
    locations: r.locations.join(',') || '-',
    problems: r.problems.join('; '),
  }))));
}

export async function verifyBackup(loaded: LoadedEnvironment, opts: { redis: string; id: string; json: boolean }): Promise<boolean> {
  const verdicts: Verdict[] = [];
  for (const store of buildDeps(loaded).allStores) {
    const bar = opts.json ? undefined : byteProgress(`verify ${store.name}`);
    verdicts.push(await verifyStoredBackup(store, opts.redis, opts.id, (b, total) => bar?.update(b, total, '')));
    bar?.stop();
  }
  printResult(opts.json, verdicts, () => verdicts.map((v) => `${v.location}: ${v.valid ? 'valid' : `INVALID: ${v.problems.join('; ')}`}`).join('\n'));
  return verdicts.every((v) => v.valid);
}
