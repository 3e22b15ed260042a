// `titan config status|resync|rollback`.
import type { Client } from '@temporalio/client';
import { type AppliedConfig, APPLIED_KEY, createConfigActivities } from '../activities/config-resync';
import { buildDeps } from '../activities/deps';
import { withRedis } from '../activities/redis-control';
import type { LoadedEnvironment } from '../load-environment';
import type { ResyncConfigResult } from '../workflows/config-resync';
import { followWithProgress, printResult, table } from './output';
import { startExclusive } from './start-workflow';

/** The drift report: what differs between the running system and the latest valid commit; false if anything does. */
export async function configStatus(loaded: LoadedEnvironment, json: boolean): Promise<boolean> {
  const a = createConfigActivities(buildDeps(loaded));
  const latest = await a.chooseConfig({});
  const { drift, applied } = await a.checkConfig({ commit: latest.commit });
  const report = { latest, applied, drift };
  printResult(json, report, () => [
    `latest valid: ${latest.commit} ${latest.ref} (${latest.subject})`,
    `applied:      ${applied.commit ?? 'nothing recorded'}${applied.at ? ` at ${applied.at}` : ''}`,
    ...latest.skipped.map((s) => `  skipped ${s.commit.slice(0, 12)}: ${s.reason}`),
    drift.length ? table(drift.map((d) => ({ kind: d.kind, name: d.name, problem: d.problem }))) : 'no drift: keys and files match the latest valid commit',
  ].join('\n'));
  return drift.length === 0 && applied.commit === latest.commit;
}

export async function resyncCommand(client: Client, loaded: LoadedEnvironment, opts: { to?: string; json: boolean }) {
  const handle = await startExclusive(client, loaded, {
    workflowType: 'resyncConfig',
    workflowId: `titan-${loaded.env.environment}-config`,
    args: [{ to: opts.to }],
    summary: opts.to ? `Re-apply configuration ${opts.to}` : 'Re-sync the latest valid configuration',
    kind: 'config',
    what: 'a configuration re-sync',
  });
  if (!opts.json) process.stderr.write(`config workflow ${handle.workflowId} started\n`);
  const r = await followWithProgress<ResyncConfigResult>(handle, opts.json, 'config');
  printResult(opts.json, { workflowId: handle.workflowId, ...r }, () => [
    `applied ${r.commit} ${r.ref} (${r.subject}) and verified it`,
    ...r.skipped.map((s) => `  skipped ${s.commit.slice(0, 12)}: ${s.reason}`),
    `keys: ${r.keys.set.length} set, ${r.keys.deleted.length} deleted; files written: ${r.files.join(', ') || 'none'}; restarted: ${r.restarted.join(', ') || 'none'}; scripts: ${r.scripts.map((s) => s.run).join(', ') || 'none'}`,
  ].join('\n'));
}

/** Re-applies `to`, or the commit applied before the current one. */
export async function rollbackCommand(client: Client, loaded: LoadedEnvironment, opts: { to?: string; json: boolean }) {
  let to = opts.to;
  if (!to) {
    const deps = buildDeps(loaded);
    const applied = await withRedis(deps.redis(deps.configSync().redis), (r) => r.hgetall(APPLIED_KEY)) as AppliedConfig;
    if (!applied.previous) throw new Error('no earlier applied configuration is recorded: give --to <full commit id>');
    to = applied.previous;
  }
  await resyncCommand(client, loaded, { to, json: opts.json });
}
