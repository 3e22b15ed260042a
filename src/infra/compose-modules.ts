// The modules stage on Docker Compose: the ModuleOrchestrator over the engine's compose project.
// A redeploy spools the log of each container it replaces (for the logs stage) before recreating;
// verification is health within the deadline, the optional HTTP probe, and a log without errors.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Environment } from '../lib/config';
import type { ModuleInventory, ModuleVerification } from '../lib/module-state';
import { DEPLOY_LABEL, type ModuleEngine, type RegistryAuth } from './module-engine';
import type { ModuleOrchestrator } from './module-orchestrator';

const PROBE_LOG_SETTLE_MS = 1000;

/** Titan's modules on Compose: the compose file read now (it may have changed), the registry login, the limits. */
export interface ModulesContext {
  engine: ModuleEngine;
  auth(): RegistryAuth;
  stopTimeoutS: number;
  healthDeadlineMs: number;
  probes: NonNullable<Environment['modules']>['probes'];
  errorPattern: RegExp;
  /** With a logging section: keeps a container's log in the backup location before a redeploy removes it. */
  spoolLog?: (service: string, container: string) => Promise<void>;
}

export class ComposeModules implements ModuleOrchestrator {
  constructor(private readonly m: ModulesContext) {}

  async inventory(services?: string[]): Promise<ModuleInventory> {
    return this.m.engine.inventory(services);
  }

  async pull(image: string, onProgress: (p: unknown) => void): Promise<string> {
    let last = 0;
    return this.m.engine.pull(image, this.m.auth(), (p) => {
      if (Date.now() - last < 1000) return;
      last = Date.now();
      onProgress(p);
    });
  }

  async redeploy(req: { service: string; image: string; deployTag: string }, _onProgress: unknown, warn: (message: string) => void): Promise<string> {
    const { engine, spoolLog, stopTimeoutS } = this.m;
    for (const c of await engine.containersOf(req.service)) {
      if (!spoolLog || c.Config.Labels?.[DEPLOY_LABEL] === req.deployTag) continue;
      // A spool that fails does not hold the redeploy up: the logs stage reports the lines as lost.
      await spoolLog(req.service, c.Id).catch((err: Error) => warn(`log of ${req.service} container ${c.Id.slice(0, 12)} not spooled: ${err.message}`));
    }
    return engine.recreate(req.service, req.image, req.deployTag, stopTimeoutS);
  }

  async verify(req: { service: string; deployed: string }, onWait: (state: string) => void): Promise<ModuleVerification> {
    const { engine, healthDeadlineMs, probes, errorPattern } = this.m;
    const out: ModuleVerification = { service: req.service, healthy: false, problems: [] };
    try {
      out.startedAt = (await engine.waitHealthy(req.deployed, healthDeadlineMs, onWait, engine.completesOnce(req.service))).startedAt;
    } catch (err) {
      out.problems.push((err as Error).message);
      return out;
    }
    const probe = probes[req.service];
    if (probe) {
      const res = await fetch(probe.url, { signal: AbortSignal.timeout(5000) }).catch((err: Error) => err);
      if (res instanceof Error) out.problems.push(`probe ${probe.url}: ${res.message}`);
      else if (res.status !== probe.expectStatus) out.problems.push(`probe ${probe.url} answered ${res.status}, expected ${probe.expectStatus}`);
      // The module logs the probe's request after answering it, and the engine's log driver lags
      // behind: without a pause the log check races the line the probe itself provoked.
      await sleep(PROBE_LOG_SETTLE_MS);
    }
    const errors = await engine.errorLines(req.deployed, out.startedAt, errorPattern);
    if (errors.length) out.problems.push(`${errors.length} error line(s) in its log since it started, e.g. ${JSON.stringify(errors[0])}`);
    out.healthy = out.problems.length === 0;
    return out;
  }
}
