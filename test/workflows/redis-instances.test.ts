// The redis stage of several instances on the time-skipping server: the real recovery code, stub
// redisRestore children (stub-stages.ts). One child per instance, in parallel; one failed instance
// fails the stage; a retry restores only that instance.
import assert from 'node:assert/strict';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { RecoveryPlan } from '../../src/lib/recovery-plan';
import { recoveryStatusQuery, signOffUpdate } from '../../src/lib/messages';
import { stubStagesWorker, timeSkippingEnvironment } from '../helpers/time-skipping';
import { untilDefined } from '../helpers/wait';
import type { StageRun } from './stub-stages';

const TASK_QUEUE = 'redis-instances-test';

const plan: RecoveryPlan = {
  environment: 'prod',
  stages: [{
    name: 'redis',
    childWorkflowType: 'redisRestore',
    args: [{ redis: 'cache' }],
    parts: ['cache', 'sessions'].map((redis) => ({ name: redis, args: [{ redis }] })),
    approvers: ['alice'],
    summary: 'Restore Redis cache, sessions',
  }],
  remindAfterMs: 30 * 60_000,
  escalateAfterMs: 120 * 60_000,
  webhook: false,
};

describe('the redis stage of several instances (time-skipping server, stub restores)', function () {
  let env: TestWorkflowEnvironment;
  let worker: { stop(): Promise<void> } | undefined;
  const runs: StageRun[] = [];

  before(async function () {
    this.timeout(180_000);
    env = await timeSkippingEnvironment();
    worker = await stubStagesWorker(env, TASK_QUEUE, {
      async planRecovery() { return plan; },
      async notifyRecovery() { return false; },
      async storeRecoveryReport() { return { markdownKey: 'report.md', jsonKey: 'report.json' }; },
      async stageOutcome(run: StageRun) {
        runs.push(run);
        const { redis } = run.input as { redis: string };
        if (redis === 'sessions' && runs.filter((r) => (r.input as { redis: string }).redis === 'sessions').length === 1) return { fail: 'sessions: no valid backup' };
        return { result: { target: redis, backup: { backupId: `${redis}-b1`, createdAt: redis === 'cache' ? '2026-12-04T10:00:00Z' : '2026-12-04T09:00:00Z' } } };
      },
    });
  });

  after(async function () {
    this.timeout(60_000);
    await worker?.stop();
    await env?.teardown();
  });

  it('each instance in its own child; the failed one fails the stage; a retry restores only it; the RPO counts from the oldest snapshot', async () => {
    const h = await env.client.workflow.start('fullDisasterRecovery', { taskQueue: TASK_QUEUE, workflowId: `recovery-${Date.now().toString(36)}`, args: [{}] });
    const waiting = (attempt: number) => untilDefined(`attempt ${attempt} to wait for a sign-off`, async () => {
      const s = await h.query(recoveryStatusQuery);
      return s.waiting?.attempt === attempt ? s : undefined;
    });
    let s = await waiting(1);
    assert.deepEqual(s.waiting!.decisions, ['retry', 'reject']);
    assert.equal(s.stages[0]!.attempts[0]!.summary, 'cache: restored cache-b1 (taken 2026-12-04T10:00:00Z) into Redis cache and verified it; sessions: FAILED: sessions: no valid backup');
    assert.deepEqual(runs.map((r) => r.childWorkflowId.slice(h.workflowId.length + 1)).sort(), ['redis-1-cache', 'redis-1-sessions']);

    await h.executeUpdate(signOffUpdate, { args: [{ stage: 'redis', decision: 'retry', by: 'alice' }] });
    s = await waiting(2);
    assert.deepEqual(runs.slice(2).map((r) => r.childWorkflowId.slice(h.workflowId.length + 1)), ['redis-2-sessions'], 'only the failed instance again');
    assert.equal(s.stages[0]!.attempts[1]!.summary, 'cache: restored cache-b1 (taken 2026-12-04T10:00:00Z) into Redis cache and verified it (attempt 1); sessions: restored sessions-b1 (taken 2026-12-04T09:00:00Z) into Redis sessions and verified it');
    await h.executeUpdate(signOffUpdate, { args: [{ stage: 'redis', decision: 'approve', by: 'alice' }] });
    const report = await h.result();
    assert.equal(report.outcome, 'completed');
    assert.equal(report.snapshot?.backupId, 'sessions-b1');
  });
});
