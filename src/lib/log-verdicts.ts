// What the logs stage decides from what it found: the shapes of log sources and checks (shared by
// the activities, the workflows and `titan logs status`) and the verdicts on them. Pure.
import type { EngineTime, LogGap } from './log-lines';

/** One container a module's lines come from: live on the engine, or a retired one's spooled log. */
export interface SourceContainer {
  id: string;
  name: string;
  running: boolean;
  created: string;
  /** The key of its spooled log, for a container a redeploy removed (see infra/log-spool.ts). */
  spooled?: string;
}

export interface LogSource {
  module: string;
  containers: SourceContainer[];
  /** The module's newest line in the store (undefined: nothing stored yet). */
  checkpoint?: { time: EngineTime; container: string };
}

/** How long a store keeps lines: days undefined when it cannot be told (`note` says why, e.g. no lifecycle policy). */
export interface StoreRetention { days?: number; note?: string }

export interface LogSources {
  store: string;
  retentionDays?: number;
  /** Where the retention comes from, or why it is unknown. */
  retentionNote?: string;
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

export interface CheckRequest { module: string; from?: EngineTime; until: EngineTime; canary?: string }

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

/** The store keeps logs less than the plan asks, or cannot say how long. */
export function retentionProblems(s: LogSources): string[] {
  if (s.retentionDays === undefined) return [`${s.store} has ${s.retentionNote ?? 'no known retention'}; the plan asks for at least ${s.minRetentionDays} days of logs`];
  return s.retentionDays < s.minRetentionDays ? [`${s.store} keeps ${s.retentionDays} days of logs; the plan asks for at least ${s.minRetentionDays}`] : [];
}

/** "keeps 35 days (ISM policy x)" or what is known instead. */
export function retentionSummary(s: { retentionDays?: number; retentionNote?: string }): string {
  return s.retentionDays === undefined ? `has ${s.retentionNote ?? 'no known retention'}` : `keeps ${s.retentionDays} days${s.retentionNote ? ` (${s.retentionNote})` : ''}`;
}

/** What a module's check found wrong, one line each. */
export function logProblems(m: { module: string; check: ModuleLogCheck }): string[] {
  const c = m.check;
  const out = c.missing.map((g) => `${m.module}: ${g.count} line(s) missing from ${g.from} to ${g.to} (container ${g.container.slice(0, 12)})`);
  if (c.distinctStored < c.storedLines) out.push(`${m.module}: ${c.storedLines - c.distinctStored} duplicate line(s) in the store`);
  if (c.canaryFound === false) out.push(`${m.module}: the canary line was not found in the store`);
  return out;
}

/** The checkpoint's container is gone: what it wrote after its last shipped line cannot be read again. */
export function removedSourceWarnings(s: LogSource): string[] {
  const cp = s.checkpoint;
  if (!cp || s.containers.some((c) => c.id === cp.container)) return [];
  return [`${s.module}: container ${cp.container.slice(0, 12)}, which wrote the last shipped line (${cp.time}), no longer exists; anything it logged after that is lost`];
}

