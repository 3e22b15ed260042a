// What the full-disaster test worker runs: the real recovery and sign-off code, with stub stages
// under the real stage workflows' names. Each stub asks the test (the `stageOutcome` activity)
// whether to fail or what to return, so a test decides "fail twice, then succeed with this result".
// recoveryDrill runs them the same way, on its sandbox task queue.
import { ApplicationFailure, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { StageName } from '../../src/lib/config';

export { fullDisasterRecovery } from '../../src/workflows/full-disaster';

export interface StageRun { stage: StageName; childWorkflowId: string; input: unknown }
export interface StubActivities {
  stageOutcome(run: StageRun): Promise<{ fail?: string; result?: unknown }>;
}

const { stageOutcome } = proxyActivities<StubActivities>({ startToCloseTimeout: '1 minute', retry: { maximumAttempts: 1 } });

async function stage(name: StageName, input: unknown): Promise<unknown> {
  const o = await stageOutcome({ stage: name, childWorkflowId: workflowInfo().workflowId, input });
  if (o.fail) throw ApplicationFailure.nonRetryable(o.fail, 'StubStageFailed');
  return o.result ?? {};
}

export async function redisRestore(input: unknown) { return stage('redis', input); }
export async function restoreModules(input: unknown) { return stage('modules', input); }
export async function resyncConfig(input: unknown) { return stage('config', input); }
export async function resumeLogs(input: unknown) { return stage('logs', input); }
export { recoveryDrill } from '../../src/workflows/drill';
