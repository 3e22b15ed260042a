// Activities of the restoreModules workflow: identify failed modules, pull their images, redeploy
// one module, verify one module. Each is idempotent (see ModuleEngine.recreate). Modules on
// Kubernetes go to deps.moduleOrchestrator() (KubernetesModules), the others to the compose engine.
import { setTimeout as sleep } from 'node:timers/promises';
import { Context, log } from '@temporalio/activity';
import type { Deps } from '../deps';
import { DEPLOY_LABEL } from '../infra/module-engine';
import type { ModuleInventory, ModuleVerification } from '../lib/module-state';
import { heartbeatWhile } from './heartbeat';

const PROBE_LOG_SETTLE_MS = 1000;

export function createModuleActivities(deps: Pick<Deps, 'modules' | 'moduleOrchestrator'>) {
  return {
    /** Every module of the compose file with its state; waves of those that need a redeploy. */
    async inspectModules(req: { services?: string[] }): Promise<ModuleInventory> {
      const k = deps.moduleOrchestrator();
      if (k) return k.inventory(req.services);
      const inv = await deps.modules().engine.inventory(req.services);
      for (const w of inv.warnings ?? []) log.warn(`compose file: ${w}`);
      return inv;
    },

    /** Pulls an image with the registry credentials (progress heartbeated); returns its image id. */
    async pullModuleImage(req: { image: string }): Promise<string> {
      const k = deps.moduleOrchestrator();
      if (k) return heartbeatWhile(`check ${req.image}`, () => k.pull(req.image));
      const m = deps.modules();
      const ctx = Context.current();
      let last = 0;
      return m.engine.pull(req.image, m.auth(), (p) => {
        if (Date.now() - last < 1000) return;
        last = Date.now();
        ctx.heartbeat(p);
      });
    },

    /**
     * Replaces the module's container with one from `image` (a reference or an image id). The log
     * of each container it replaces is spooled first, for the logs stage to ship; a spool that
     * fails does not hold the redeploy up (the logs stage then reports the lines as lost).
     */
    async redeployModule(req: { service: string; image: string; deployTag: string }): Promise<string> {
      const k = deps.moduleOrchestrator();
      if (k) {
        const ctx = Context.current();
        return heartbeatWhile(`redeploy ${req.service}`, () => k.redeploy(req, (phase) => ctx.heartbeat({ phase })));
      }
      const m = deps.modules();
      return heartbeatWhile(`redeploy ${req.service}`, async () => {
        for (const c of await m.engine.containersOf(req.service)) {
          if (!m.spoolLog || c.Config.Labels?.[DEPLOY_LABEL] === req.deployTag) continue;
          await m.spoolLog(req.service, c.Id).catch((err: Error) => log.warn(`log of ${req.service} container ${c.Id.slice(0, 12)} not spooled: ${err.message}`));
        }
        return m.engine.recreate(req.service, req.image, req.deployTag, m.stopTimeoutS);
      });
    },

    /** Restarts a module whose dependency was redeployed (depends_on restart: true); undefined if it has no container. */
    async restartModule(req: { service: string }): Promise<{ containerId: string; image: string } | undefined> {
      const m = deps.modules();
      return heartbeatWhile(`restart ${req.service}`, () => m.engine.restart(req.service, m.stopTimeoutS));
    },

    /** Healthy (a one-shot job: completed) within the deadline, the optional HTTP probe answers, no error lines in its logs since it started. */
    async verifyModule(req: { service: string; containerId: string }): Promise<ModuleVerification> {
      const ctx = Context.current();
      const k = deps.moduleOrchestrator();
      if (k) return k.verify({ service: req.service, deployed: req.containerId }, (state) => ctx.heartbeat({ phase: `${req.service}: ${state}` }));
      const m = deps.modules();
      const out: ModuleVerification = { service: req.service, healthy: false, problems: [] };
      try {
        const onWait = (state: string) => ctx.heartbeat({ phase: `${req.service}: ${state}` });
        out.startedAt = (await m.engine.waitHealthy(req.containerId, m.healthDeadlineMs, onWait, m.engine.completesOnce(req.service))).startedAt;
      } catch (err) {
        out.problems.push((err as Error).message);
        return out;
      }
      const probe = m.probes[req.service];
      if (probe) {
        const res = await fetch(probe.url, { signal: AbortSignal.timeout(5000) }).catch((err: Error) => err);
        if (res instanceof Error) out.problems.push(`probe ${probe.url}: ${res.message}`);
        else if (res.status !== probe.expectStatus) out.problems.push(`probe ${probe.url} answered ${res.status}, expected ${probe.expectStatus}`);
        // The module logs the probe's request after answering it, and the engine's log driver lags
        // behind: without a pause the log check races the line the probe itself provoked.
        await sleep(PROBE_LOG_SETTLE_MS);
      }
      const errors = await m.engine.errorLines(req.containerId, out.startedAt, m.errorPattern);
      if (errors.length) out.problems.push(`${errors.length} error line(s) in its log since it started, e.g. ${JSON.stringify(errors[0])}`);
      out.healthy = out.problems.length === 0;
      return out;
    },
  };
}
