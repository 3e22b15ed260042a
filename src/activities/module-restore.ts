// Activities of the restoreModules workflow: identify failed modules, pull their images, redeploy
// one module, verify one module, on the orchestrator the environment file names (Compose or
// Kubernetes). Each is idempotent (see ModuleEngine.recreate, KubernetesModules.redeploy).
import { Context, log } from '@temporalio/activity';
import type { Deps } from '../deps';
import type { ModuleInventory, ModuleVerification } from '../lib/module-state';
import { heartbeatWhile } from './heartbeat';

export function createModuleActivities(deps: Pick<Deps, 'modules' | 'moduleOrchestrator'>) {
  return {
    /** Every module with its state; waves of those that need a redeploy. */
    async inspectModules(req: { services?: string[] }): Promise<ModuleInventory> {
      const inv = await deps.moduleOrchestrator().inventory(req.services);
      for (const w of inv.warnings ?? []) log.warn(`compose file: ${w}`);
      return inv;
    },

    /** Pulls an image with the registry credentials, or checks the registry has it (progress heartbeated). */
    async pullModuleImage(req: { image: string }): Promise<string> {
      const ctx = Context.current();
      return deps.moduleOrchestrator().pull(req.image, (p) => ctx.heartbeat(p));
    },

    /**
     * Brings the module back from `image` (a reference or an image id; on Kubernetes its recorded
     * spec). On Compose the log of each container it replaces is spooled first, for the logs stage.
     */
    async redeployModule(req: { service: string; image: string; deployTag: string }): Promise<string> {
      const ctx = Context.current();
      return heartbeatWhile(`redeploy ${req.service}`, () => deps.moduleOrchestrator().redeploy(req, (phase) => ctx.heartbeat({ phase }), (m) => log.warn(m)));
    },

    /** Restarts a module whose dependency was redeployed (depends_on restart: true); undefined if it has no container. */
    async restartModule(req: { service: string }): Promise<{ containerId: string; image: string } | undefined> {
      const m = deps.modules();
      return heartbeatWhile(`restart ${req.service}`, () => m.engine.restart(req.service, m.stopTimeoutS));
    },

    /** Healthy within the deadline and nothing wrong since (Compose: probe and log; Kubernetes: rollout, restarts, events). */
    async verifyModule(req: { service: string; containerId: string }): Promise<ModuleVerification> {
      const ctx = Context.current();
      return deps.moduleOrchestrator().verify({ service: req.service, deployed: req.containerId }, (state) => ctx.heartbeat({ phase: `${req.service}: ${state}` }));
    },
  };
}
