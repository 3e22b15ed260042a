// A DR drill: the full-disaster chain against sandbox targets beside production. The sandbox (Redis,
// the modules namespace on Kubernetes) is started, fullDisasterRecovery runs as a child on the
// drill's task queue (whose worker's activities only reach the sandbox), and the sandbox is removed
// however that ends — success, a failed or rejected stage, a sandbox that did not start, or a
// cancelled drill. The report, with the measured RTO and what was removed, is stored like a
// recovery's under the drill's id.
import {
  ActivityFailure, ApplicationFailure, CancellationScope, ChildWorkflowFailure, executeChild, setCurrentDetails, setHandler, upsertSearchAttributes, workflowInfo,
} from '@temporalio/workflow';
import { type DrillStatus, drillStatusQuery } from '../lib/messages';
import type { RecoveryReport } from '../lib/recovery-report';
import { ErrorType } from '../lib/errors';
import { drillTaskQueue, Kind, SearchKey } from '../lib/names';
import type { fullDisasterRecovery } from './full-disaster';
import { failureReason, quickStep, sandboxStep } from './steps';

export interface DrillInput {
  /** Wait for people to sign each stage off instead of the drill's own sign-offs (default: the file's recovery.drill.autoSignOff). */
  waitForSignOff?: boolean;
}

export async function recoveryDrill(input: DrillInput = {}): Promise<RecoveryReport> {
  const { workflowId, runId, taskQueue } = workflowInfo();
  const sandboxQueue = drillTaskQueue(taskQueue);
  const status: DrillStatus = { phase: 'starting the sandbox', recoveryWorkflowId: `${workflowId}-recovery`, cleanedUp: [] };
  setHandler(drillStatusQuery, () => status, { description: 'The drill\'s phase, its recovery workflow, and what removing the sandbox removed' });
  upsertSearchAttributes([{ key: SearchKey.kind, value: Kind.drill }]);

  let report: RecoveryReport | undefined;
  let cleanupProblem: string | undefined;
  try {
    setCurrentDetails(`Starting the sandbox (task queue \`${sandboxQueue}\`)`);
    const sandbox = await sandboxStep('start the sandbox: Redis, modules namespace on Kubernetes', sandboxQueue).startDrillSandbox({ workflowId });
    status.phase = 'recovering';
    const autoSignOff = input.waitForSignOff === undefined ? sandbox.autoSignOff : !input.waitForSignOff;
    setCurrentDetails(`Recovering into the sandbox: child workflow \`${status.recoveryWorkflowId}\`${autoSignOff ? '' : ' (waits for sign-offs)'}`);
    report = await executeChild<typeof fullDisasterRecovery>('fullDisasterRecovery', {
      workflowId: status.recoveryWorkflowId,
      taskQueue: sandboxQueue,
      args: [{ drill: { autoSignOff } }],
      staticSummary: `Drill recovery into the sandbox${autoSignOff ? ', signed off automatically' : ''}`,
      typedSearchAttributes: [{ key: SearchKey.kind, value: Kind.drill }],
    });
  } catch (err) {
    if (!(err instanceof ActivityFailure || err instanceof ChildWorkflowFailure)) throw err;
    status.problem = failureReason(err);
  } finally {
    // Also when the drill is cancelled: the sandbox must not outlive it.
    await CancellationScope.nonCancellable(async () => {
      status.phase = 'removing the sandbox';
      setCurrentDetails('Removing the sandbox');
      try {
        const removed = await sandboxStep('remove the sandbox: Redis container and data, drill modules (containers or namespace), files', sandboxQueue).removeDrillSandbox({ workflowId });
        status.cleanedUp = removed.removed;
        cleanupProblem = removed.leftAlone;
      } catch (err) {
        if (!(err instanceof ActivityFailure)) throw err;
        cleanupProblem = failureReason(err);
      }
      status.phase = 'ended';
    });
  }

  const why = report && report.outcome !== 'completed' ? report.problems[report.problems.length - 1] ?? `the drill's recovery was ${report.outcome}` : status.problem;
  const details = { outcome: report?.outcome ?? 'failed', cleanedUp: status.cleanedUp, cleanupProblem, rtoMs: report?.rto.totalMs };
  if (!report) throw ApplicationFailure.nonRetryable(`drill failed: ${why}`, ErrorType.DrillFailed, details);
  const drillReport: RecoveryReport = { ...report, workflowId, runId, drill: { ...report.drill!, cleanedUp: status.cleanedUp, ...(cleanupProblem ? { cleanupProblem } : {}) } };
  const stored = await quickStep('store the drill report beside the backups').storeRecoveryReport({ workflowId, runId, report: drillReport });
  setCurrentDetails(`Drill ${report.outcome}. Report: \`${stored.markdownKey}\``);
  if (report.outcome !== 'completed' || cleanupProblem) {
    throw ApplicationFailure.nonRetryable(`drill ${report.outcome}: ${why ?? `sandbox not removed: ${cleanupProblem}`}`, ErrorType.DrillFailed, { ...details, reportKey: stored.markdownKey });
  }
  return drillReport;
}
