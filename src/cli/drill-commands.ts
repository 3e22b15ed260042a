// `titan drill`: a DR drill against the sandbox targets of the environment file's recovery.drill
// section (one at a time), followed with a stage progress bar until it ends — or until it waits
// for a sign-off — then its measured RTO and what removing the sandbox removed.
import { setTimeout as sleep } from 'node:timers/promises';
import { type Client, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { SingleBar } from 'cli-progress';
import { DRILL_SIGNER } from '../lib/drill';
import { Kind, WorkflowId } from '../lib/names';
import type { RecoveryReport, RecoveryStatus } from '../lib/recovery-report';
import type { LoadedEnvironment } from '../load-environment';
import { type DrillStatus, drillStatusQuery } from '../lib/messages';
import { recoveryStatusQuery } from '../lib/messages';
import { humanAge, printResult } from './output';
import { workflowLink } from './recovery-commands';
import { startWorkflow } from './start-workflow';

const POLL_MS = 1000;

interface DrillEnd { outcome: string; rtoMs?: number; cleanedUp: string[]; cleanupProblem?: string; reportKey?: string }

export async function drillCommand(client: Client, loaded: LoadedEnvironment, opts: { waitForSignOff: boolean; json: boolean }) {
  if (!loaded.env.recovery?.drill) throw new Error(`${loaded.source} has no recovery.drill section: it names the sandbox targets a drill recovers into`);
  const handle = await startWorkflow(client, loaded, {
    workflow: 'recoveryDrill',
    workflowId: WorkflowId.drill(loaded.env),
    args: [opts.waitForSignOff ? { waitForSignOff: true } : {}],
    summary: 'DR drill against sandbox targets',
    kind: Kind.drill,
    exclusive: `a drill of ${loaded.env.environment}`,
  });
  if (!opts.json) process.stderr.write(`drill ${handle.workflowId} started: ${workflowLink(client, handle.workflowId)}\n`);
  const bar = opts.json ? undefined : new SingleBar({ format: 'drill [{bar}] {value}/{total} stages {phase}', stream: process.stderr, noTTYOutput: true, notTTYSchedule: 3000, hideCursor: true });
  let started = false;
  const ended = handle.result().then((r: RecoveryReport) => r, (err: unknown) => err);
  try {
    for (;;) {
      const d = await handle.query(drillStatusQuery).catch(() => undefined);
      const s = d && (await client.workflow.getHandle(d.recoveryWorkflowId).query(recoveryStatusQuery).catch(() => undefined));
      if (s) {
        const done = s.stages.filter((x) => x.state === 'approved').length;
        const phase = d.phase === 'recovering' ? `${s.current ?? ''} ${s.stages.find((x) => x.name === s.current)?.state ?? ''}` : d.phase;
        if (!started) { bar?.start(s.stages.length, done, { phase }); started = true; } else bar?.update(done, { phase });
        if (s.waiting && !s.waiting.approvers.includes(DRILL_SIGNER)) {
          bar?.stop();
          return printResult(opts.json, { workflowId: handle.workflowId, recoveryWorkflowId: d.recoveryWorkflowId, status: s }, () => describeWait(s, d));
        }
      }
      const end = await Promise.race([ended, sleep(POLL_MS).then(() => undefined)]);
      if (end !== undefined) {
        bar?.stop();
        return printEnd(handle.workflowId, end, opts.json);
      }
    }
  } finally {
    bar?.stop();
  }
}

function describeWait(s: RecoveryStatus, d: DrillStatus): string {
  const w = s.waiting!;
  return [
    `drill stage ${w.stage} (attempt ${w.attempt}) waits for a sign-off from ${w.approvers.join(' or ')}:`,
    ...w.decisions.map((x) => `  titan sign-off ${d.recoveryWorkflowId} --stage ${w.stage} --${x} --by <you>`),
    'the sandbox is removed when the drill ends, however it ends',
  ].join('\n');
}

function printEnd(workflowId: string, end: RecoveryReport | unknown, json: boolean) {
  const failure = end instanceof WorkflowFailedError && end.cause instanceof ApplicationFailure ? end.cause : undefined;
  if (!failure && end instanceof Error) throw end;
  const r = failure ? (failure.details?.[0] as DrillEnd | undefined) : undefined;
  const report = failure ? undefined : (end as RecoveryReport);
  const facts: DrillEnd = report
    ? { outcome: report.outcome, rtoMs: report.rto.totalMs, cleanedUp: report.drill?.cleanedUp ?? [], cleanupProblem: report.drill?.cleanupProblem }
    : r ?? { outcome: 'failed', cleanedUp: [] };
  const lines = [
    `drill ${workflowId}: ${facts.outcome}${facts.rtoMs !== undefined ? `, measured RTO ${humanAge(new Date(0), new Date(facts.rtoMs))}` : ''}`,
    ...(facts.cleanedUp.length ? facts.cleanedUp.map((c) => `removed ${c}`) : ['removed: nothing (no sandbox was made)']),
    ...(facts.cleanupProblem ? [`NOT removed: ${facts.cleanupProblem}`] : []),
    `report: titan report ${workflowId}`,
  ];
  if (!failure) return printResult(json, { workflowId, ...facts }, () => lines.join('\n'));
  // A failed drill: what was cleaned up still goes to the operator, then the one-line failure.
  if (json) process.stdout.write(`${JSON.stringify({ workflowId, ...facts, failure: failure.message }, null, 2)}\n`);
  else process.stderr.write(`${lines.join('\n')}\n`);
  throw failure;
}
