// Activities of the resumeLogs and shipLogs workflows: identify each module's log source and
// checkpoint, ship from the checkpoint (idempotently: lines the store may hold already are looked
// up by id first), write a canary through each module, verify source against store.
import { Context } from '@temporalio/activity';
import { ScheduleNotFoundError } from '@temporalio/client';
import type { Deps } from '../deps';
import { checkModuleLogs, identifyLogSources } from '../infra/log-check';
import { type ShipProgress, type ShipRequest, shipModuleLogs } from '../infra/log-ship';
import { moduleContainers, writeCanary } from '../infra/log-source';
import type { EngineTime } from '../lib/log-lines';
import type { CheckRequest, LogSources, ModuleLogCheck, ShipResult } from '../lib/log-verdicts';

export function createLogActivities(deps: Pick<Deps, 'logs'>) {
  const scheduleHandle = () => Context.current().client.schedule.getHandle(deps.logs().shippingScheduleId);

  return {
    /** Each module's containers and checkpoint, and the store's retention. */
    async identifyLogSources(req: { modules?: string[] }): Promise<LogSources> {
      return identifyLogSources(deps.logs(), req.modules);
    },

    /**
     * Ships the module's lines in [since, until] (since: default its checkpoint) from every one of
     * its containers. Lines at or before the checkpoint may be stored already: they are looked up
     * by id and only the missing ones sent; later lines cannot be stored yet.
     */
    async shipModuleLogs(req: ShipRequest): Promise<ShipResult> {
      const ctx = Context.current();
      return shipModuleLogs(deps.logs(), req, ctx.info.heartbeatDetails as ShipProgress | undefined, (p) => ctx.heartbeat(p));
    },

    /** Writes a canary line through the module's running container; its engine time. */
    async writeLogCanary(req: { module: string; text: string }): Promise<{ container: string; time: EngineTime }> {
      const logs = deps.logs();
      const running = (await moduleContainers(logs.docker, logs.project, req.module)).filter((c) => c.running).at(-1);
      if (!running) throw new Error(`module ${req.module} has no running container to write a canary through`);
      return { container: running.id, time: await writeCanary(logs.docker, running.id, req.text) };
    },

    /** Source against store in [from, until]: every line by id, counts per minute, duplicates, the canary. */
    async verifyModuleLogs(req: CheckRequest): Promise<ModuleLogCheck> {
      const ctx = Context.current();
      return checkModuleLogs(deps.logs(), req, (phase) => ctx.heartbeat({ phase }));
    },

    /** Pauses the shipping schedule (if it exists and runs); true if this call paused it. */
    async pauseLogShipping(req: { reason: string }): Promise<boolean> {
      try {
        const handle = scheduleHandle();
        if ((await handle.describe()).state.paused) return false;
        await handle.pause(req.reason);
        return true;
      } catch (err) {
        if (err instanceof ScheduleNotFoundError) return false;
        throw err;
      }
    },

    async resumeLogShipping(req: { note: string }): Promise<void> {
      await scheduleHandle().unpause(req.note);
    },

    /** Deletes spooled logs of retired containers once the module's logs are verified. */
    async dropSpooledLogs(req: { keys: string[] }): Promise<void> {
      for (const key of req.keys) await deps.logs().spool.deleteKey(key);
    },
  };
}
