// recoveryDrill on Temporal's time-skipping test server: the real drill, recovery and sign-off
// code with stub stages (test/workflows/stub-stages.ts) and stub sandbox activities, on two task
// queues like the real worker's: production's and the drill's.
import assert from 'node:assert/strict';
import { Context } from '@temporalio/activity';
import { ApplicationFailure, type WorkflowHandle, WorkflowFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { DRILL_SIGNER } from '../../src/lib/drill';
import { drillTaskQueue } from '../../src/lib/names';
import type { StageName } from '../../src/lib/config';
import type { RecoveryPlan } from '../../src/lib/recovery-plan';
import { type RecoveryReport, renderRecoveryReport, type RecoveryStatus } from '../../src/lib/recovery-report';
import { ErrorType } from '../../src/lib/errors';
import { SearchKey } from '../../src/lib/names';
import type { DrillInput, recoveryDrill } from '../../src/workflows/drill';
import { drillStatusQuery } from '../../src/lib/messages';
import { recoveryStatusQuery, signOffUpdate } from '../../src/lib/messages';
import { timeSkippingEnvironment } from '../helpers/time-skipping';
import type { StageRun } from './stub-stages';
import { untilDefined } from '../helpers/wait';

const TASK_QUEUE = 'drill-test';
const SANDBOX_QUEUE = drillTaskQueue(TASK_QUEUE);
const STAGES = ['redis', 'modules', 'config', 'logs'] as const;

const plan: RecoveryPlan = {
  environment: 'local-drill',
  stages: STAGES.map((name) => ({
    name,
    childWorkflowType: { redis: 'redisRestore', modules: 'restoreModules', config: 'resyncConfig', logs: 'resumeLogs' }[name],
    args: [name === 'redis' ? { redis: 'main' } : {}],
    approvers: ['alice'],
    summary: `stage ${name}`,
  })),
  remindAfterMs: 30 * 60_000,
  escalateAfterMs: 120 * 60_000,
  webhook: false,
};

interface Behaviour { fail?: StageName; sandboxFails?: boolean }

describe('DR drill (time-skipping server, stub stages and sandbox)', function () {
  let env: TestWorkflowEnvironment;
  let workers: Worker[];
  let running: Promise<unknown>;
  const behaviours = new Map<string, Behaviour>();
  /** What happened, per drill, in order: sandbox start/removal and stage runs, with their task queue. */
  const events = new Map<string, string[]>();
  const reports = new Map<string, RecoveryReport>();
  let n = 0;
  const drillOf = (id: string) => id.replace(/-recovery(-[a-z]+-\d+)?$/, '');
  const record = (drill: string, what: string) => events.set(drill, [...(events.get(drill) ?? []), `${what}@${Context.current().info.taskQueue}`]);

  before(async function () {
    this.timeout(180_000);
    env = await timeSkippingEnvironment();
    const workflowBundle = await bundleWorkflowCode({ workflowsPath: require.resolve('./stub-stages'), logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: console.error } });
    const storeRecoveryReport = async (req: { workflowId: string; runId: string; report: RecoveryReport }) => {
      reports.set(req.workflowId, req.report);
      return { markdownKey: `redis/_recoveries/${req.workflowId}/${req.runId}/report.md`, jsonKey: `redis/_recoveries/${req.workflowId}/${req.runId}/report.json` };
    };
    const common = { connection: env.nativeConnection, namespace: env.namespace, workflowBundle };
    workers = [
      // Production's queue: only what the drill itself does there (its report).
      await Worker.create({ ...common, taskQueue: TASK_QUEUE, activities: { storeRecoveryReport } }),
      await Worker.create({
        ...common,
        taskQueue: SANDBOX_QUEUE,
        activities: {
          async planRecovery() { return plan; },
          async notifyRecovery() { return false; },
          storeRecoveryReport,
          async startDrillSandbox(req: { workflowId: string }) {
            record(req.workflowId, 'start sandbox');
            if (behaviours.get(req.workflowId)?.sandboxFails) throw ApplicationFailure.nonRetryable('the sandbox Redis belongs to drill other-1, which is still running', ErrorType.DrillSandboxInUse);
            return { autoSignOff: true, redis: 'main' };
          },
          async removeDrillSandbox(req: { workflowId: string }) {
            record(req.workflowId, 'remove sandbox');
            return { removed: ['Redis container titan-drill-local-redis', 'Redis data dir /drill/redis'] };
          },
          async stageOutcome(run: StageRun) {
            const drill = drillOf(run.childWorkflowId);
            record(drill, run.stage);
            return behaviours.get(drill)?.fail === run.stage ? { fail: `stub ${run.stage} failure` } : { result: {} };
          },
        },
      }),
    ];
    running = Promise.all(workers.map((w) => w.run()));
  });

  after(async function () {
    this.timeout(60_000);
    workers?.forEach((w) => w.shutdown());
    await running;
    await env?.teardown();
  });

  async function start(b: Behaviour = {}, input: DrillInput = {}) {
    const workflowId = `drill-${++n}-${Date.now().toString(36)}`;
    behaviours.set(workflowId, b);
    return env.client.workflow.start<typeof recoveryDrill>('recoveryDrill', { taskQueue: TASK_QUEUE, workflowId, args: [input] });
  }

  async function failure(h: WorkflowHandle): Promise<ApplicationFailure> {
    const err = await h.result().then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof WorkflowFailedError, `expected the drill to fail, got ${String(err)}`);
    assert.ok(err.cause instanceof ApplicationFailure);
    return err.cause;
  }


  const at = (what: string) => `${what}@${SANDBOX_QUEUE}`;

  it('runs the recovery and its stages on the drill queue, signs each verified stage off as titan-drill, then removes the sandbox; the report is a drill\'s', async () => {
    const h = await start();
    const report = await h.result();
    assert.deepEqual(events.get(h.workflowId), [at('start sandbox'), ...STAGES.map(at), at('remove sandbox')]);
    const child = await env.client.workflow.getHandle(`${h.workflowId}-recovery`).describe();
    assert.equal(child.taskQueue, SANDBOX_QUEUE);
    assert.equal(child.typedSearchAttributes.get(SearchKey.kind), 'drill');
    assert.equal((await h.describe()).typedSearchAttributes.get(SearchKey.kind), 'drill');
    assert.equal(report.outcome, 'completed');
    assert.equal(report.workflowId, h.workflowId);
    assert.deepEqual(report.stages.map((s) => s.signOffs.map((x) => [x.decision, x.by, x.via])), STAGES.map(() => [['approve', DRILL_SIGNER, 'auto']]));
    assert.deepEqual(report.drill, { autoSignOff: true, cleanedUp: ['Redis container titan-drill-local-redis', 'Redis data dir /drill/redis'] });
    assert.ok(report.rto.totalMs !== undefined, 'the measured RTO');
    assert.deepEqual(reports.get(h.workflowId), report, 'stored under the drill\'s id');
    assert.equal(reports.get(`${h.workflowId}-recovery`), undefined, 'the drill\'s recovery leaves the storing to the drill');
    const md = renderRecoveryReport(report);
    assert.match(md, /^# Drill of local-drill: completed/);
    assert.match(md, /- Sandbox removed: Redis container titan-drill-local-redis; Redis data dir \/drill\/redis/);
    assert.match(md, /redis #1: \*\*approve\*\* by titan-drill \(auto\)/);
    assert.equal((await h.query(drillStatusQuery)).phase, 'ended');
  });

  it('a failed stage ends the drill (aborted by titan-drill): nothing after it runs, the sandbox is removed, DrillFailed with the report stored', async () => {
    const h = await start({ fail: 'modules' });
    const f = await failure(h);
    assert.equal(f.type, ErrorType.DrillFailed);
    assert.match(f.message, /^drill aborted: modules attempt 1 failed: stub modules failure$/);
    assert.deepEqual(events.get(h.workflowId), [at('start sandbox'), at('redis'), at('modules'), at('remove sandbox')]);
    const r = reports.get(h.workflowId)!;
    assert.equal(r.outcome, 'aborted');
    assert.deepEqual(r.stages.map((s) => s.state), ['approved', 'failed', 'pending', 'pending']);
    assert.deepEqual(r.stages[1]!.signOffs.map((x) => [x.decision, x.by, x.via]), [['reject', DRILL_SIGNER, 'auto']]);
    assert.equal(r.drill?.cleanedUp?.length, 2);
    assert.deepEqual((f.details?.[0] as { cleanedUp: string[] }).cleanedUp, r.drill?.cleanedUp);
  });

  it('waiting for sign-offs: a person\'s rejection ends the drill and the sandbox is removed', async () => {
    const h = await start({}, { waitForSignOff: true });
    const child = env.client.workflow.getHandle(`${h.workflowId}-recovery`);
    await untilDefined('redis waiting for a sign-off', async () => ((await child.query(recoveryStatusQuery)).waiting?.stage === 'redis' ? true : undefined));
    assert.deepEqual(events.get(h.workflowId), [at('start sandbox'), at('redis')], 'nothing removed while it waits');
    await child.executeUpdate(signOffUpdate, { args: [{ stage: 'redis', decision: 'reject', by: 'alice', comment: 'digest differs' }] });
    const f = await failure(h);
    assert.equal(f.type, ErrorType.DrillFailed);
    assert.match(f.message, /^drill rejected/);
    assert.deepEqual(events.get(h.workflowId), [at('start sandbox'), at('redis'), at('remove sandbox')]);
    const r: RecoveryStatus = reports.get(h.workflowId)!;
    assert.deepEqual(r.stages[0]!.signOffs.map((x) => [x.decision, x.by, x.via]), [['reject', 'alice', 'update']]);
    assert.deepEqual(r.drill?.autoSignOff, false);
  });

  it('waiting for sign-offs: approvals by people complete it', async () => {
    const h = await start({}, { waitForSignOff: true });
    const child = env.client.workflow.getHandle(`${h.workflowId}-recovery`);
    for (const stage of STAGES) {
      await untilDefined(`${stage} waiting`, async () => ((await child.query(recoveryStatusQuery)).waiting?.stage === stage ? true : undefined));
      await child.executeUpdate(signOffUpdate, { args: [{ stage, decision: 'approve', by: 'alice' }] });
    }
    const report = await h.result();
    assert.equal(report.outcome, 'completed');
    assert.equal(events.get(h.workflowId)!.at(-1), at('remove sandbox'));
  });

  it('a sandbox that does not start: no recovery runs, the sandbox is still removed, DrillFailed with the reason', async () => {
    const h = await start({ sandboxFails: true });
    const f = await failure(h);
    assert.equal(f.type, ErrorType.DrillFailed);
    assert.equal(f.message, 'drill failed: the sandbox Redis belongs to drill other-1, which is still running');
    assert.deepEqual(events.get(h.workflowId), [at('start sandbox'), at('remove sandbox')]);
    assert.equal(reports.get(h.workflowId), undefined);
  });
});
