// `titan logs status` (read-only: what the store lacks, per module) and `titan logs resume`.
import type { Client } from '@temporalio/client';
import { buildDeps } from '../deps';
import { checkModuleLogs, identifyLogSources } from '../infra/log-check';
import { onModulesHost } from '../lib/hosts';
import { normalizeTime } from '../lib/log-lines';
import { type LogSource, logProblems, type ModuleLogCheck, removedSourceWarnings, retentionProblems, retentionSummary } from '../lib/log-verdicts';
import { Kind, WorkflowId } from '../lib/names';
import { durationMs } from '../lib/validation';
import type { LoadedEnvironment } from '../load-environment';
import { printResult, table } from './output';
import { runWorkflow } from './start-workflow';

/**
 * Checks the last `since` of every module up to its checkpoint (later lines are not shipped yet,
 * not lost); false when lines are missing or duplicated, or the store keeps logs too briefly.
 */
export async function logStatus(loaded: LoadedEnvironment, opts: { modules: string[]; since: string; json: boolean }): Promise<boolean> {
  const logs = buildDeps(loaded).logs();
  const sources = await identifyLogSources(logs, opts.modules);
  const from = normalizeTime(new Date(Date.now() - durationMs(opts.since)).toISOString());
  const modules: { module: string; checkpoint: LogSource['checkpoint']; check?: ModuleLogCheck; problems: string[]; warnings: string[] }[] = [];
  for (const s of sources.modules) {
    const check = s.checkpoint && s.checkpoint.time >= from ? await checkModuleLogs(logs, { module: s.module, from, until: s.checkpoint.time }) : undefined;
    modules.push({ module: s.module, checkpoint: s.checkpoint, check, problems: check ? logProblems({ module: s.module, check }) : [], warnings: removedSourceWarnings(s) });
  }
  const problems = [...retentionProblems(sources), ...modules.flatMap((m) => m.problems)];
  printResult(opts.json, { store: sources.store, retentionDays: sources.retentionDays, retentionNote: sources.retentionNote, from, modules, problems }, () => [
    `store: ${sources.store}, ${retentionSummary(sources)} (the plan asks for ≥ ${sources.minRetentionDays} days)`,
    table(modules.map((m) => ({
      module: m.module,
      checkpoint: m.checkpoint?.time ?? 'nothing stored',
      'source lines': m.check ? String(m.check.sourceLines) : '-',
      stored: m.check ? String(m.check.storedLines) : '-',
      state: m.problems.length ? 'LINES MISSING OR DUPLICATED' : m.check ? 'complete' : `nothing shipped in the last ${opts.since}`,
    }))),
    ...problems,
    ...modules.flatMap((m) => m.warnings),
    'lines after a checkpoint are not shipped yet: the shipping schedule or `titan logs resume` ships them',
  ].filter((l) => l).join('\n'));
  return problems.length === 0;
}

export async function resumeLogsCommand(client: Client, loaded: LoadedEnvironment, opts: { modules: string[]; since?: string; json: boolean }) {
  if (opts.since !== undefined && Number.isNaN(Date.parse(opts.since))) throw new Error(`--since "${opts.since}" is not an ISO 8601 time`);
  await runWorkflow(client, loaded, {
    workflow: 'resumeLogs',
    workflowId: WorkflowId.logs(loaded.env),
    args: [{ modules: opts.modules.length ? opts.modules : undefined, since: opts.since, ...onModulesHost(loaded.env) }],
    summary: `Resume log shipping${opts.modules.length ? ` of ${opts.modules.join(', ')}` : ''}${opts.since ? ` from ${opts.since}` : ''}`,
    kind: Kind.logs,
    exclusive: 'a log resumption',
    label: 'log resumption',
  }, {
    json: opts.json,
    describe: (r) => [
      table(r.modules.map((m) => ({
        module: m.module,
        from: m.check.from ?? 'first line',
        read: String(m.shipped.read),
        shipped: String(m.shipped.shipped),
        'already stored': String(m.shipped.alreadyStored),
        verified: `${m.check.sourceLines} source = ${m.check.distinctStored} stored, canary ${m.check.canaryFound ? 'found' : 'MISSING'}`,
      }))),
      `store: ${r.store}, ${retentionSummary(r)}`,
      ...r.warnings.map((w) => `warning: ${w}`),
    ].join('\n'),
  });
}
