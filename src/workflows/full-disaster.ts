// Full-disaster recovery (seed plan §1→4, then §5 document): Redis restore → module redeploy →
// config re-sync → log resumption, each a child workflow, each signed off by a person before the
// next starts. A failed stage waits to be retried or the recovery aborted; a rejected one stops
// it. The report is stored beside the backups however it ends. As a drill (`drill`, on the sandbox
// task queue, started by recoveryDrill) it may sign its stages off itself, and it returns its
// report, whatever the outcome, for the drill to store with the sandbox cleanup.
import { ApplicationFailure, ChildWorkflowFailure, setCurrentDetails, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { PlannedStage } from '../lib/recovery-plan';
import { describeStageResult, type RecoveryReport, recoveryReport, type RecoveryStatus, type SignedOff, type StageAttempt, type StageStatus } from '../lib/recovery-report';
import { DRILL_SIGNER } from '../lib/drill';
import { ErrorType } from '../lib/errors';
import { Kind, SearchKey } from '../lib/names';
import { acceptSignOffs } from './sign-off';
import { PartsFailed, stageChildren } from './stage-children';
import { failureReason, quickStep } from './steps';

export interface FullDisasterInput {
  /** When the disaster happened (ISO 8601): the backup restored is the latest before it, and the RPO is counted to it. */
  incidentAt?: string;
  /** A drill: with autoSignOff each verified stage is approved as titan-drill, and the first failed one aborts it. */
  drill?: { autoSignOff: boolean };
}

export async function fullDisasterRecovery(input: FullDisasterInput = {}): Promise<RecoveryReport> {
  const { workflowId, runId } = workflowInfo();
  setCurrentDetails('Resolving the recovery plan from the environment file');
  const plan = await quickStep('resolve the recovery plan from the environment file').planRecovery({ incidentAt: input.incidentAt });
  // Also when started from the Web UI's form: every recovery is filterable by environment and kind.
  upsertSearchAttributes([{ key: SearchKey.environment, value: plan.environment }, { key: SearchKey.kind, value: kind(input) }]);
  const status: RecoveryStatus = {
    workflowId, environment: plan.environment, outcome: 'running', startedAt: new Date().toISOString(), incidentAt: input.incidentAt,
    stages: plan.stages.map((s) => ({ name: s.name, summary: s.summary, approvers: s.approvers, state: 'pending', attempts: [], signOffs: [], notices: [] })),
    warnings: [], problems: [], ...(input.drill ? { drill: { autoSignOff: input.drill.autoSignOff } } : {}),
  };
  const waitForSignOff = acceptSignOffs(status, plan, input.drill?.autoSignOff ? DRILL_SIGNER : undefined);
  const runChildren = stageChildren(status, plan, () => stageDetails(status));

  for (const [i, planned] of plan.stages.entries()) {
    const stage = status.stages[i]!;
    for (let attempt = 1; ; attempt++) {
      const succeeded = await runStage(status, stage, planned, attempt, runChildren);
      const signed = await waitForSignOff(stage, attempt, succeeded ? ['approve', 'reject', 'retry'] : ['retry', 'reject']);
      if (signed.decision === 'approve') { stage.state = 'approved'; break; }
      if (signed.decision === 'reject') return finish(status, runId, succeeded ? 'rejected' : 'aborted', signed);
    }
  }
  return finish(status, runId, 'completed');
}

const kind = (d: { drill?: unknown }) => (d.drill ? Kind.drill : Kind.recovery);

/** One attempt of a stage as its own child workflow; false when it failed. */
async function runStage(status: RecoveryStatus, stage: StageStatus, planned: PlannedStage, attempt: number, runChildren: ReturnType<typeof stageChildren>): Promise<boolean> {
  const childWorkflowId = `${status.workflowId}-${stage.name}-${attempt}`;
  status.current = stage.name;
  stage.state = 'running';
  upsertSearchAttributes([{ key: SearchKey.stage, value: stage.name }]);
  const run: StageAttempt = { attempt, childWorkflowId, startedAt: new Date().toISOString(), outcome: 'running' };
  stage.attempts.push(run);
  stageDetails(status);
  try {
    const { summary, results } = await runChildren(stage, planned, attempt, childWorkflowId, {
      taskQueue: workflowInfo().taskQueue,
      staticSummary: `Recovery of ${status.environment}, stage ${stage.name}${attempt > 1 ? ` (attempt ${attempt})` : ''}: ${stage.summary}`,
      typedSearchAttributes: [
        { key: SearchKey.environment, value: status.environment },
        { key: SearchKey.kind, value: kind(status) },
        { key: SearchKey.stage, value: stage.name },
      ],
    });
    run.outcome = 'succeeded';
    run.summary = summary;
    for (const d of results.map((r) => describeStageResult(stage.name, r))) {
      // Several instances: the oldest snapshot bounds the data lost (RPO).
      if (d.snapshot && (!status.snapshot || d.snapshot.takenAt < status.snapshot.takenAt)) status.snapshot = d.snapshot;
      status.warnings.push(...d.warnings.map((w) => `${stage.name}: ${w}`));
      status.problems.push(...d.problems.map((p) => `${stage.name}: ${p}`));
    }
    stage.state = 'awaiting sign-off';
    return true;
  } catch (err) {
    if (!(err instanceof ChildWorkflowFailure || err instanceof PartsFailed)) throw err;
    run.outcome = 'failed';
    run.summary = err instanceof PartsFailed ? err.message : failureReason(err);
    status.problems.push(`${stage.name} attempt ${attempt} failed: ${run.summary}`);
    stage.state = 'failed';
    return false;
  } finally {
    run.endedAt = new Date().toISOString();
  }
}

/** The running stage and its child workflow, led by the hosts whose workers it waits for. */
function stageDetails(status: RecoveryStatus) {
  const stage = status.stages.find((s) => s.name === status.current);
  const run = stage?.attempts[stage.attempts.length - 1];
  if (!stage || !run || stage.state !== 'running') return;
  const waiting = stage.waitingFor?.map((w) => `**${w}**\n\n`).join('') ?? '';
  setCurrentDetails(`${waiting}Stage **${stage.name}**${run.attempt > 1 ? ` (attempt ${run.attempt})` : ''}: ${stage.summary} — child workflow \`${run.childWorkflowId}\``);
}

/** Stores the report; a rejected or aborted recovery then fails with that reason. */
async function finish(status: RecoveryStatus, runId: string, outcome: Exclude<RecoveryStatus['outcome'], 'running'>, signed?: SignedOff): Promise<RecoveryReport> {
  Object.assign(status, { outcome, endedAt: new Date().toISOString(), current: undefined, waiting: undefined });
  const last = status.stages.find((s) => s.name === signed?.stage);
  if (last && outcome === 'rejected') last.state = 'rejected';
  const report = recoveryReport(status, runId);
  if (status.drill) return report; // recoveryDrill stores it, with what removing the sandbox removed
  setCurrentDetails(`Recovery ${outcome}; storing the report`);
  const stored = await quickStep('store the recovery report beside the backups').storeRecoveryReport({ workflowId: status.workflowId, runId, report });
  setCurrentDetails(`Recovery ${outcome}. Report: \`${stored.markdownKey}\` in the primary backup location`);
  if (!signed || outcome === 'completed') return report;
  const why = `stage ${signed.stage} ${outcome === 'rejected' ? 'rejected' : 'failed and the recovery was aborted'} by ${signed.by}${signed.comment ? `: ${signed.comment}` : ''}`;
  throw ApplicationFailure.nonRetryable(`recovery ${outcome}: ${why}`, outcome === 'rejected' ? ErrorType.RecoveryRejected : ErrorType.RecoveryAborted, { reportKey: stored.markdownKey });
}
