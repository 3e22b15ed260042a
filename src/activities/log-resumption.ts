// Activities of the resumeLogs and shipLogs workflows: identify each module's log source and
// checkpoint, ship from the checkpoint (idempotently: lines the store may hold already are looked
// up by id first), write a canary through each module, verify source against store.
import { Context } from '@temporalio/activity';
import { ScheduleNotFoundError } from '@temporalio/client';
import { type EngineTime, gapFinder, type LogGap, minuteOf } from '../lib/log-lines';
import type { Deps, LogsContext } from './deps';
import { containerLines, moduleContainers, type SourceContainer, type SourceLine, withIds, writeCanary } from './log-source';
import { spooledContainers, spooledLines } from './log-spool';
import type { StoredLine } from './log-store';

export interface LogSource {
  module: string;
  containers: SourceContainer[];
  /** The module's newest line in the store (undefined: nothing stored yet). */
  checkpoint?: { time: EngineTime; container: string };
}

export interface LogSources {
  store: string;
  retentionDays: number;
  minRetentionDays: number;
  modules: LogSource[];
}

export interface ShipResult {
  module: string;
  /** Source lines read in the window. */
  read: number;
  /** Lines sent to the store. */
  shipped: number;
  /** Lines found in the store already (by id) and not sent again. */
  alreadyStored: number;
}

export interface ModuleLogCheck {
  module: string;
  from?: EngineTime;
  until: EngineTime;
  sourceLines: number;
  storedLines: number;
  distinctStored: number;
  /** Runs of source lines the store does not hold. */
  missing: LogGap[];
  /** Minutes whose source and store counts differ. */
  minutes: { minute: string; source: number; stored: number }[];
  canaryFound?: boolean;
}

/** Where a retried shipment resumes: containers finished, and the time shipped up to in the next. */
interface ShipProgress { phase: string; done: string[]; container?: string; time?: EngineTime; read: number; shipped: number; alreadyStored: number }

/** Lines per bulk request: big enough to keep the store busy, small enough to bound memory. */
export const BULK_LINES = 5000;

export function createLogActivities(deps: Deps) {
  const scheduleHandle = () => Context.current().client.schedule.getHandle(deps.logs().shippingScheduleId);

  return {
    /** Each module's containers and checkpoint, and the store's retention. */
    async identifyLogSources(req: { modules?: string[] }): Promise<LogSources> {
      const logs = deps.logs();
      await logs.store.flush();
      const modules = await Promise.all(logs.modules(req.modules).map(async (module) => ({
        module,
        containers: await moduleSources(logs, module),
        checkpoint: await logs.store.newest(module),
      })));
      return { store: logs.store.description, retentionDays: await logs.store.retentionDays(), minRetentionDays: logs.minRetentionDays, modules };
    },

    /**
     * Ships the module's lines in [since, until] (since: default its checkpoint) from every one of
     * its containers. Lines at or before the checkpoint may be stored already: they are looked up
     * by id and only the missing ones sent; later lines cannot be stored yet.
     */
    async shipModuleLogs(req: { module: string; since?: EngineTime; until: EngineTime }): Promise<ShipResult> {
      const logs = deps.logs();
      const ctx = Context.current();
      const resumed = ctx.info.heartbeatDetails as ShipProgress | undefined;
      const p: ShipProgress = resumed ?? { phase: `ship ${req.module}`, done: [], read: 0, shipped: 0, alreadyStored: 0 };
      await logs.store.flush();
      const checkpoint = (await logs.store.newest(req.module))?.time;
      const since = req.since ?? checkpoint;
      let toCheck: SourceLine[] = [];
      let toSend: StoredLine[] = [];
      const check = async () => {
        if (toCheck.length === 0) return;
        const stored = await logs.store.existing(req.module, toCheck.map((l) => l.id), toCheck[0]!.time, toCheck.at(-1)!.time);
        for (const l of toCheck) {
          if (stored.has(l.id)) p.alreadyStored++;
          else toSend.push(storedLine(req.module, l));
        }
        toCheck = [];
      };
      // One bulk write in flight while the next batch is read. A resume point (everything before
      // `time` in `container` is stored) is heartbeated only once its write has succeeded.
      let inFlight: Promise<void> = Promise.resolve();
      const commit = async (point: { container: string; time?: EngineTime; done?: boolean }) => {
        await check();
        const batch = toSend;
        toSend = [];
        await inFlight;
        inFlight = logs.store.write(batch).then(() => {
          p.shipped += batch.length;
          if (point.done) p.done.push(point.container);
          Object.assign(p, { container: point.container, time: point.time, phase: `ship ${req.module}: ${p.read} read, ${p.shipped} shipped` });
          ctx.heartbeat(p);
        });
        inFlight.catch(() => undefined); // its failure is raised where it is awaited, not as an unhandled rejection
        if (point.done) await inFlight;
      };
      for (const c of await moduleSources(logs, req.module)) {
        if (p.done.includes(c.id)) continue;
        const from = p.container === c.id && p.time ? p.time : since;
        let last: EngineTime | undefined;
        for await (const line of sourceLines(logs, c, { since: from, until: req.until })) {
          p.read++;
          if (checkpoint && line.time <= checkpoint) toCheck.push(line);
          else {
            await check(); // keep the order: a retry resumes after the last line handled
            toSend.push(storedLine(req.module, line));
          }
          // Commit at a time boundary only, so a resumed read starts with a whole nanosecond.
          if (toCheck.length + toSend.length >= BULK_LINES && line.time !== last) await commit({ container: c.id, time: line.time });
          last = line.time;
        }
        await commit({ container: c.id, done: true });
      }
      await logs.store.flush();
      return { module: req.module, read: p.read, shipped: p.shipped, alreadyStored: p.alreadyStored };
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

/**
 * A module's log sources: its containers on the engine, and, first, the logs of retired ones a
 * redeploy spooled before removing them.
 */
async function moduleSources(logs: LogsContext, module: string): Promise<SourceContainer[]> {
  const live = await moduleContainers(logs.docker, logs.project, module);
  const spooled = (await spooledContainers(logs.spool, logs.project, module)).filter((s) => !live.some((c) => c.id === s.id));
  return [...spooled.map((s) => ({ id: s.id, name: `${s.id.slice(0, 12)} (spooled log)`, running: false, created: s.spooledAt, spooled: s.key })), ...live];
}

const sourceLines = (logs: LogsContext, c: SourceContainer, window: { since?: EngineTime; until: EngineTime }) =>
  (c.spooled ? withIds(c.id, spooledLines(logs.spool, c.spooled, window)) : containerLines(logs.docker, c.id, window));

export interface CheckRequest { module: string; from?: EngineTime; until: EngineTime; canary?: string }

/** The check itself, also run read-only by `titan logs status`. */
export async function checkModuleLogs(logs: LogsContext, req: CheckRequest, progress: (phase: string) => void = () => undefined): Promise<ModuleLogCheck> {
  await logs.store.flush();
  const window = { module: req.module, from: req.from, until: req.until };
  const [stored, counts, storedPerMinute] = await Promise.all([logs.store.ids(window), logs.store.counts(window), logs.store.perMinute(window)]);
  const gaps = gapFinder();
  const sourcePerMinute = new Map<string, number>();
  let read = 0;
  for (const c of await moduleSources(logs, req.module)) {
    for await (const line of sourceLines(logs, c, { since: req.from, until: req.until })) {
      gaps.line(c.id, line.time, stored.has(line.id));
      const minute = minuteOf(line.time);
      sourcePerMinute.set(minute, (sourcePerMinute.get(minute) ?? 0) + 1);
      if (++read % 50_000 === 0) progress(`verify ${req.module}: ${read} lines`);
    }
  }
  const minutes = [...new Set([...sourcePerMinute.keys(), ...storedPerMinute.keys()])].sort()
    .map((minute) => ({ minute, source: sourcePerMinute.get(minute) ?? 0, stored: storedPerMinute.get(minute) ?? 0 }))
    .filter((m) => m.source !== m.stored);
  return {
    ...window,
    sourceLines: read,
    storedLines: counts.lines,
    distinctStored: counts.distinct,
    missing: gaps.gaps(),
    minutes,
    canaryFound: req.canary === undefined ? undefined : await logs.store.contains(req.module, req.canary),
  };
}

function storedLine(module: string, l: SourceLine): StoredLine {
  return { time: l.time, message: l.text, titan_id: l.id, container: l.container, stream: l.stream, module };
}
