// Recovery plan §4 (logs): identify each module's log source → resume shipping to the central
// store from its checkpoint, backfilling the outage from the engine's logs → verify that nothing
// was lost: every source line by id, per-minute counts, duplicates, a canary through each module,
// and the store's retention. The shipping schedule is paused while this runs and always resumed.
import { ApplicationFailure, workflowInfo } from '@temporalio/workflow';
import { type EngineTime, normalizeTime } from '../lib/log-lines';
import { type LogSource, logProblems, type ModuleLogCheck, removedSourceWarnings, retentionProblems, type ShipResult } from '../lib/log-verdicts';
import { ErrorType } from '../lib/errors';
import type { HostRoute } from '../lib/hosts';
import { routesOf, runOnHosts } from './host-wait';
import { type Steps, stepProgress } from './step-progress';
import { onHost, quickStep } from './steps';

export interface ResumeLogsInput {
  /** Only these modules (default: every configured one). */
  modules?: string[];
  /** Backfill and verify from this time instead of each module's checkpoint (ISO 8601). */
  since?: string;
  /** The host whose engine runs the modules: their log sources are read there (absent: the implicit host). */
  host?: HostRoute;
}

/** Where this run's log-source steps go, and how it tells what it does. */
type On = { steps: ReturnType<typeof onHost>; details: (step: string) => void };

export interface ModuleLogResumption {
  module: string;
  checkpoint?: LogSource['checkpoint'];
  shipped: ShipResult;
  canary: { text: string; time: EngineTime };
  check: ModuleLogCheck;
}

export interface ResumeLogsResult {
  store: string;
  /** Undefined when the store cannot tell (e.g. no lifecycle policy): then a problem says why. */
  retentionDays?: number;
  retentionNote?: string;
  modules: ModuleLogResumption[];
  /** What makes the resumption fail: missing lines, duplicates, no canary, short retention. */
  problems: string[];
  /** What an operator should know but cannot be fixed from here (e.g. lines of a removed container). */
  warnings: string[];
}

export async function resumeLogs(input: ResumeLogsInput = {}): Promise<ResumeLogsResult> {
  return runOnHosts(routesOf(input), (details) => resume(input, { steps: onHost(input.host), details }));
}

async function resume(input: ResumeLogsInput, on: On): Promise<ResumeLogsResult> {
  const progress = stepProgress();
  on.details('Identifying log sources and checkpoints');
  const sources = await on.steps.quick('identify log sources and checkpoints').identifyLogSources({ modules: input.modules });
  const since = input.since === undefined ? undefined : normalizeTime(new Date(input.since).toISOString());
  const result: ResumeLogsResult = { store: sources.store, retentionDays: sources.retentionDays, retentionNote: sources.retentionNote, modules: [], problems: [], warnings: [] };
  result.problems.push(...retentionProblems(sources));
  result.warnings.push(...sources.modules.flatMap(removedSourceWarnings));

  const paused = await quickStep('pause the log-shipping schedule').pauseLogShipping({ reason: `resumeLogs ${workflowInfo().workflowId} is backfilling` });
  try {
    // One module after the other: each backfill keeps the store busy on its own.
    progress.plan(4 * sources.modules.length); // backfill, canary, ship to the canary, verify
    for (const source of sources.modules) result.modules.push(await resumeModule(source, since, on, progress.step));
  } finally {
    if (paused) await quickStep('resume the log-shipping schedule').resumeLogShipping({ note: `resumed by ${workflowInfo().workflowId}` });
  }
  result.problems.push(...result.modules.flatMap(logProblems));
  on.details(result.problems.length ? `Log verification failed: ${result.problems.join('; ')}` : `Logs resumed and verified: ${result.modules.map((m) => `${m.module} ${m.check.sourceLines} lines`).join(', ')}`);
  if (result.problems.length) {
    throw ApplicationFailure.nonRetryable(`logs not verified: ${result.problems.join('; ')}`, ErrorType.LogVerificationFailed, result);
  }
  return result;
}

async function resumeModule(source: LogSource, since: EngineTime | undefined, on: On, step: Steps['step']): Promise<ModuleLogResumption> {
  const { module, checkpoint } = source;
  const from = since ?? checkpoint?.time;
  on.details(`**${module}**: backfilling from ${from ?? 'its first line'}`);
  const until = normalizeTime(new Date().toISOString());
  const backfill = await step(on.steps.long(`backfill ${module} from ${from ?? 'its first line'}`).shipModuleLogs({ module, since: from, until }));

  on.details(`**${module}**: writing a canary and shipping it`);
  const text = `titan-canary ${workflowInfo().workflowId}/${workflowInfo().runId}/${module}`;
  const canary = await step(on.steps.quick(`write a canary through ${module}`).writeLogCanary({ module, text }));
  const after = await step(on.steps.long(`ship ${module} up to its canary`).shipModuleLogs({ module, since: until, until: canary.time }));

  on.details(`**${module}**: verifying source against store`);
  const check = await step(on.steps.long(`verify ${module}`).verifyModuleLogs({ module, from, until: canary.time, canary: text }));
  // Retired containers' spooled logs are shipped and verified now: no longer needed.
  const spooled = source.containers.flatMap((c) => (c.spooled ? [c.spooled] : []));
  if (spooled.length && logProblems({ module, check }).length === 0) await quickStep(`drop the spooled logs of ${module}'s retired containers`).dropSpooledLogs({ keys: spooled });
  const shipped = { module, read: backfill.read + after.read, shipped: backfill.shipped + after.shipped, alreadyStored: backfill.alreadyStored + after.alreadyStored };
  return { module, checkpoint, shipped, canary: { text, time: canary.time }, check };
}

export interface ShipLogsResult { modules: ShipResult[] }

/** The schedule's regular shipment: every module from its checkpoint up to now. */
export async function shipLogs(input: { modules?: string[]; host?: HostRoute } = {}): Promise<ShipLogsResult> {
  return runOnHosts(routesOf(input), (details) => ship(input, { steps: onHost(input.host), details }));
}

async function ship(input: { modules?: string[] }, on: On): Promise<ShipLogsResult> {
  const sources = await on.steps.quick('identify log sources and checkpoints').identifyLogSources({ modules: input.modules });
  const until = normalizeTime(new Date().toISOString());
  const modules = [];
  for (const s of sources.modules) {
    on.details(`Shipping **${s.module}** from ${s.checkpoint?.time ?? 'its first line'}`);
    modules.push(await on.steps.long(`ship ${s.module}`).shipModuleLogs({ module: s.module, since: s.checkpoint?.time, until }));
  }
  on.details(`Shipped ${modules.map((m) => `${m.module}: ${m.shipped}`).join(', ')}`);
  return { modules };
}
