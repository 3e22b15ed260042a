// `titan modules status` and `titan modules restore`.
import type { Client } from '@temporalio/client';
import { buildDeps } from '../activities/deps';
import { createModuleActivities } from '../activities/module-restore';
import type { LoadedEnvironment } from '../load-environment';
import type { RestoreModulesResult } from '../workflows/module-restore';
import { followWithProgress, printResult, table } from './output';
import { startExclusive } from './start-workflow';

/** Prints every module's state; returns false when some need a redeploy. */
export async function moduleStatus(loaded: LoadedEnvironment, opts: { services: string[]; json: boolean }): Promise<boolean> {
  const inv = await createModuleActivities(buildDeps(loaded)).inspectModules({ services: opts.services });
  printResult(opts.json, inv, () => table(inv.modules.map((m) => ({
    module: m.service,
    state: m.state,
    failed: m.failed ? 'YES' : 'no',
    reason: m.reason,
    container: m.containerId?.slice(0, 12) ?? '-',
  }))));
  return inv.modules.every((m) => !m.failed);
}

export async function restoreModulesCommand(client: Client, loaded: LoadedEnvironment, opts: { services: string[]; json: boolean }) {
  const handle = await startExclusive(client, loaded, {
    workflowType: 'restoreModules',
    workflowId: `titan-${loaded.env.environment}-modules`,
    args: [{ services: opts.services.length ? opts.services : undefined }],
    summary: `Restore ${opts.services.length ? opts.services.join(', ') : 'failed'} modules`,
    kind: 'modules',
    what: 'a module restore',
  });
  if (!opts.json) process.stderr.write(`module restore workflow ${handle.workflowId} started\n`);
  const r = await followWithProgress<RestoreModulesResult>(handle, opts.json, 'modules');
  printResult(opts.json, { workflowId: handle.workflowId, ...r }, () => r.outcomes.length === 0
    ? `every module of project ${r.project} is healthy: nothing changed`
    : [
      `waves: ${r.waves.map((w) => w.join(' + ')).join(' → ')}`,
      table(r.outcomes.map((o) => ({ module: o.service, action: o.action, why: o.reason, image: o.image }))),
      `untouched: ${r.untouched.map((u) => u.service).join(', ') || 'none'}`,
    ].join('\n'));
}
