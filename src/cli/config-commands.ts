// `titan config status|resync|rollback`.
import type { Client } from '@temporalio/client';
import { buildDeps } from '../deps';
import { appliedConfig, checkConfig, chooseConfig, withConfigRedis } from '../infra/config-state';
import { onConfigHosts } from '../lib/hosts';
import { Kind, WorkflowId } from '../lib/names';
import type { LoadedEnvironment } from '../load-environment';
import { printResult, table } from './output';
import { runWorkflow } from './start-workflow';

/** The drift report: what differs between the running system and the latest valid commit; false if anything does. */
export async function configStatus(loaded: LoadedEnvironment, json: boolean): Promise<boolean> {
  const sync = buildDeps(loaded).configSync();
  const latest = await chooseConfig(sync);
  const { drift, applied } = await checkConfig(sync, latest.commit);
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
  await runWorkflow(client, loaded, {
    workflow: 'resyncConfig',
    workflowId: WorkflowId.config(loaded.env),
    args: [{ to: opts.to, ...onConfigHosts(loaded.env) }],
    summary: opts.to ? `Re-apply configuration ${opts.to}` : 'Re-sync the latest valid configuration',
    kind: Kind.config,
    exclusive: 'a configuration re-sync',
    label: 'config',
  }, {
    json: opts.json,
    describe: (r) => [
      `applied ${r.commit} ${r.ref} (${r.subject}) and verified it`,
      ...r.skipped.map((s) => `  skipped ${s.commit.slice(0, 12)}: ${s.reason}`),
      `keys: ${r.keys.set.length} set, ${r.keys.deleted.length} deleted; files written: ${r.files.join(', ') || 'none'}; removed: ${r.removed.join(', ') || 'none'}; restarted: ${r.restarted.join(', ') || 'none'}; scripts: ${r.scripts.map((s) => s.run).join(', ') || 'none'}`,
    ].join('\n'),
  });
}

/** Re-applies `to`, or the commit applied before the current one. */
export async function rollbackCommand(client: Client, loaded: LoadedEnvironment, opts: { to?: string; json: boolean }) {
  let to = opts.to;
  if (!to) {
    const applied = await withConfigRedis(buildDeps(loaded).configSync(), appliedConfig);
    if (!applied.previous) throw new Error('no earlier applied configuration is recorded: give --to <full commit id>');
    to = applied.previous;
  }
  await resyncCommand(client, loaded, { to, json: opts.json });
}
