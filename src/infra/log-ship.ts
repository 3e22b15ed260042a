// Shipping a module's log lines to the central store, idempotently: lines the store may hold
// already (at or before its checkpoint) are looked up by id and only the missing ones sent, unless
// the store refuses copies by id itself (Elasticsearch), which then count as already stored. Run by
// the logs activities (resumable from their heartbeat) and measured by bench/logs.bench.ts.
import type { EngineTime } from '../lib/log-lines';
import type { ShipResult } from '../lib/log-verdicts';
import { type LogsContext, moduleSources, sourceLines } from './log-check';
import type { SourceLine } from './log-source';
import type { StoredLine } from './log-store';

/** Lines per bulk request: big enough to keep the store busy, small enough to bound memory. */
export const BULK_LINES = 5000;

export interface ShipRequest { module: string; since?: EngineTime; until: EngineTime }

/** Where a retried shipment resumes: containers finished, and the time shipped up to in the next. */
export interface ShipProgress { phase: string; done: string[]; container?: string; time?: EngineTime; read: number; shipped: number; alreadyStored: number }

/**
 * Ships the module's lines in [since, until] (since: default its checkpoint) from every one of its
 * containers, resuming after `resumed`; `progress` gets each resume point once its write succeeded.
 */
export async function shipModuleLogs(logs: LogsContext, req: ShipRequest, resumed: ShipProgress | undefined, progress: (p: ShipProgress) => void): Promise<ShipResult> {
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
  // `time` in `container` is stored) is reported only once its write has succeeded.
  let inFlight: Promise<void> = Promise.resolve();
  const commit = async (point: { container: string; time?: EngineTime; done?: boolean }) => {
    await check();
    const batch = toSend;
    toSend = [];
    await inFlight;
    inFlight = logs.store.write(batch).then((r) => {
      p.shipped += r.stored;
      p.alreadyStored += r.alreadyStored;
      if (point.done) p.done.push(point.container);
      Object.assign(p, { container: point.container, time: point.time, phase: `ship ${req.module}: ${p.read} read, ${p.shipped} shipped` });
      progress(p);
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
      // A store that refuses copies itself needs no lookups: a re-sent line comes back as already stored.
      if (checkpoint && line.time <= checkpoint && !logs.store.deduplicates) toCheck.push(line);
      else {
        if (toCheck.length > 0) await check(); // keep the order: a retry resumes after the last line handled
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
}

function storedLine(module: string, l: SourceLine): StoredLine {
  return { time: l.time, message: l.text, titan_id: l.id, container: l.container, stream: l.stream, module };
}
