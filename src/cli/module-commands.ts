// `titan modules status`, `titan modules restore` and (modules on Kubernetes) `titan modules record`.
import type { Client } from '@temporalio/client';
import { buildDeps } from '../deps';
import { onModulesHost } from '../lib/hosts';
import { Kind, WorkflowId } from '../lib/names';
import type { LoadedEnvironment } from '../load-environment';
import { printResult, table } from './output';
import { runWorkflow } from './start-workflow';

/** Prints every module's state; returns false when some need a redeploy. */
export async function moduleStatus(loaded: LoadedEnvironment, opts: { services: string[]; json: boolean }): Promise<boolean> {
  const deps = buildDeps(loaded);
  const inv = await deps.moduleOrchestrator().inventory(opts.services);
  for (const w of inv.warnings ?? []) process.stderr.write(`warning: ${w}\n`);
  printResult(opts.json, inv, () => table(inv.modules.map((m) => ({
    module: m.service,
    state: m.state,
    failed: m.failed ? 'YES' : 'no',
    reason: m.reason,
    // a container id, shortened as docker does; on Kubernetes, kind/name and revision
    container: (m.containerId && /^[0-9a-f]{64}$/.test(m.containerId) ? m.containerId.slice(0, 12) : m.containerId) ?? '-',
  }))));
  return inv.modules.every((m) => !m.failed);
}

export async function restoreModulesCommand(client: Client, loaded: LoadedEnvironment, opts: { services: string[]; json: boolean }) {
  await runWorkflow(client, loaded, {
    workflow: 'restoreModules',
    workflowId: WorkflowId.modules(loaded.env),
    args: [{ services: opts.services.length ? opts.services : undefined, ...onModulesHost(loaded.env) }],
    summary: `Restore ${opts.services.length ? opts.services.join(', ') : 'failed'} modules`,
    kind: Kind.modules,
    exclusive: 'a module restore',
    label: 'module restore',
  }, {
    json: opts.json,
    describe: (r) => (r.outcomes.length === 0
      ? `every module of project ${r.project} is healthy: nothing changed`
      : [
        `waves: ${r.waves.map((w) => w.join(' + ')).join(' → ')}`,
        table(r.outcomes.map((o) => ({ module: o.service, action: o.action, why: o.reason, image: o.image }))),
        `untouched: ${r.untouched.map((u) => u.service).join(', ') || 'none'}`,
      ].join('\n')),
  });
}

/** Records the healthy Kubernetes workloads as their modules' last known good. */
export async function recordModules(loaded: LoadedEnvironment, opts: { services: string[]; json: boolean }) {
  const orchestrator = buildDeps(loaded).moduleOrchestrator();
  if (!orchestrator.record) throw new Error(`${loaded.file}: modules.kubernetes is not configured; compose modules' good state is the compose file`);
  const recorded = await orchestrator.record(opts.services);
  printResult(opts.json, recorded, () => table(recorded.map((r) => ({
    module: r.service,
    revision: r.revision ?? '-',
    images: Object.entries(r.images).map(([c, i]) => `${c}=${i}${r.digests[c] ? `@${r.digests[c]}` : ''}`).join(' '),
  }))));
}
