// The logs stage's reading side, shared by its activities and `titan logs status`: a module's log
// sources (live containers and spooled logs of retired ones), each module's checkpoint, and the
// check of source against store.
import type Docker from 'dockerode';
import { type EngineTime, gapFinder, minuteOf } from '../lib/log-lines';
import type { CheckRequest, LogSources, ModuleLogCheck, SourceContainer } from '../lib/log-verdicts';
import type { BackupStore } from './backup-store';
import { containerLines, moduleContainers, withIds } from './log-source';
import { spooledContainers, spooledLines } from './log-spool';
import type { LogStore } from './log-store';

/** The central log store and the modules whose logs go there, as deps.ts builds them. */
export interface LogsContext {
  store: LogStore;
  /** Where redeploys spool the logs of the containers they remove (the primary backup location). */
  spool: BackupStore;
  docker: Docker;
  /** The compose project whose containers are the log sources. */
  project: string;
  /** The modules asked for (checked against the compose file), or every configured one. */
  modules(only?: string[]): string[];
  minRetentionDays: number;
  shippingScheduleId: string;
}

/** Each module's containers and checkpoint, and the store's retention. */
export async function identifyLogSources(logs: LogsContext, only?: string[]): Promise<LogSources> {
  await logs.store.flush();
  const modules = await Promise.all(logs.modules(only).map(async (module) => ({
    module,
    containers: await moduleSources(logs, module),
    checkpoint: await logs.store.newest(module),
  })));
  const retention = await logs.store.retention();
  return { store: logs.store.description, retentionDays: retention.days, retentionNote: retention.note, minRetentionDays: logs.minRetentionDays, modules };
}

/**
 * A module's log sources: its containers on the engine, and, first, the logs of retired ones a
 * redeploy spooled before removing them.
 */
export async function moduleSources(logs: LogsContext, module: string): Promise<SourceContainer[]> {
  const live = await moduleContainers(logs.docker, logs.project, module);
  const spooled = (await spooledContainers(logs.spool, logs.project, module)).filter((s) => !live.some((c) => c.id === s.id));
  return [...spooled.map((s) => ({ id: s.id, name: `${s.id.slice(0, 12)} (spooled log)`, running: false, created: s.spooledAt, spooled: s.key })), ...live];
}

export const sourceLines = (logs: LogsContext, c: SourceContainer, window: { since?: EngineTime; until: EngineTime }) =>
  (c.spooled ? withIds(c.id, spooledLines(logs.spool, c.spooled, window)) : containerLines(logs.docker, c.id, window));

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
