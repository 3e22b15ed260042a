// The full-disaster recovery on Temporal's time-skipping test server: the real workflow and
// sign-off code, stub stages (test/workflows/stub-stages.ts) and stub activities, so hours of
// waiting for a sign-off take milliseconds.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApplicationFailure, type WorkflowHandle, WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { RecoveryNotice } from '../../src/activities/full-disaster';
import { startRecovery } from '../../src/cli/recovery-commands';
import { parseEnvironment } from '../../src/lib/environment';
import type { StageName } from '../../src/lib/config';
import type { RecoveryPlan } from '../../src/lib/recovery-plan';
import { type Decision, type RecoveryReport, renderRecoveryReport, type RecoveryStatus } from '../../src/lib/recovery-report';
import { ErrorType } from '../../src/lib/errors';
import { SearchKey } from '../../src/lib/names';
import type { LoadedEnvironment } from '../../src/load-environment';
import type { fullDisasterRecovery } from '../../src/workflows/full-disaster';
import { recoveryStatusQuery, signOffSignal, signOffUpdate } from '../../src/lib/messages';
import { titan } from '../helpers/cli';
import { stubStagesWorker, timeSkippingEnvironment } from '../helpers/time-skipping';
import type { StageRun } from './stub-stages';
import { untilDefined } from '../helpers/wait';

const TASK_QUEUE = 'full-disaster-test';
const MINUTE = 60_000;
const APPROVERS: Record<StageName, string[]> = { redis: ['alice', 'bob'], modules: ['alice'], config: ['alice'], logs: ['carol'] };
const signer = (stage: StageName) => APPROVERS[stage][0]!;

const plan = (incidentAt?: string): RecoveryPlan => ({
  environment: 'drill',
  stages: (['redis', 'modules', 'config', 'logs'] as const).map((name) => ({
    name,
    childWorkflowType: { redis: 'redisRestore', modules: 'restoreModules', config: 'resyncConfig', logs: 'resumeLogs' }[name],
    args: [name === 'redis' ? { redis: 'main', before: incidentAt } : {}],
    approvers: APPROVERS[name],
    summary: `stage ${name}`,
  })),
  remindAfterMs: 30 * MINUTE,
  escalateAfterMs: 120 * MINUTE,
  webhook: true,
});

/** How a test wants the stub stages of its recovery to behave: fail the first N runs, return a result. */
interface Behaviour { failures?: Partial<Record<StageName, number>>; results?: Partial<Record<StageName, unknown>> }

describe('full-disaster recovery (time-skipping server, stub stages)', function () {
  let env: TestWorkflowEnvironment;
  let worker: { stop(): Promise<void> } | undefined;
  const behaviours = new Map<string, Behaviour>();
  const runs: StageRun[] = [];
  const notices: RecoveryNotice[] = [];
  const reports = new Map<string, RecoveryReport>();
  let n = 0;

  before(async function () {
    this.timeout(180_000);
    env = await timeSkippingEnvironment();
    worker = await stubStagesWorker(env, TASK_QUEUE, {
      async planRecovery(req: { incidentAt?: string }) { return plan(req.incidentAt); },
      async notifyRecovery(notice: RecoveryNotice) { notices.push(notice); return true; },
      async storeRecoveryReport(req: { workflowId: string; runId: string; report: RecoveryReport }) {
        reports.set(req.workflowId, req.report);
        return { markdownKey: `redis/_recoveries/${req.workflowId}/${req.runId}/report.md`, jsonKey: `redis/_recoveries/${req.workflowId}/${req.runId}/report.json` };
      },
      async stageOutcome(run: StageRun) {
        runs.push(run);
        const parent = run.childWorkflowId.replace(/-[a-z]+-\d+$/, '');
        const b = behaviours.get(parent) ?? {};
        const earlier = runs.filter((r) => r.stage === run.stage && r.childWorkflowId.startsWith(`${parent}-`)).length - 1;
        if (earlier < (b.failures?.[run.stage] ?? 0)) return { fail: `stub ${run.stage} failure #${earlier + 1}` };
        return { result: b.results?.[run.stage] };
      },
    });
  });

  after(async function () {
    this.timeout(60_000);
    await worker?.stop();
    await env?.teardown();
  });

  async function start(b: Behaviour = {}, incidentAt?: string) {
    const workflowId = `recovery-${++n}-${Date.now().toString(36)}`;
    behaviours.set(workflowId, b);
    return env.client.workflow.start<typeof fullDisasterRecovery>('fullDisasterRecovery', { taskQueue: TASK_QUEUE, workflowId, args: [{ incidentAt }] });
  }

  const status = (h: WorkflowHandle) => h.query(recoveryStatusQuery);


  const waitingOn = (h: WorkflowHandle, stage: StageName, attempt = 1) =>
    untilDefined(`${stage} #${attempt} to wait for a sign-off`, async () => {
      const s = await status(h);
      return s.waiting?.stage === stage && s.waiting.attempt === attempt ? s : undefined;
    });

  async function sign(h: WorkflowHandle, stage: StageName, decision: Decision, by = signer(stage), comment?: string) {
    return h.executeUpdate(signOffUpdate, { args: [{ stage, decision, by, comment }] });
  }

  async function approveAll(h: WorkflowHandle, stages: StageName[]) {
    for (const stage of stages) {
      await waitingOn(h, stage);
      await sign(h, stage, 'approve');
    }
  }

  const stagesRun = (h: WorkflowHandle) => runs.filter((r) => r.childWorkflowId.startsWith(`${h.workflowId}-`)).map((r) => r.childWorkflowId.slice(h.workflowId.length + 1));

  async function failure(h: WorkflowHandle): Promise<ApplicationFailure> {
    const err = await h.result().then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof WorkflowFailedError, `expected the recovery to fail, got ${String(err)}`);
    assert.ok(err.cause instanceof ApplicationFailure);
    return err.cause;
  }

  it('runs the stages in order as child workflows <id>-<stage>-1, each after its sign-off, tagged for the UI', async () => {
    const h = await start();
    const s = await waitingOn(h, 'redis');
    assert.deepEqual(stagesRun(h), ['redis-1'], 'modules must not start before redis is signed off');
    assert.equal(s.stages[0]!.attempts[0]!.childWorkflowId, `${h.workflowId}-redis-1`);
    const sa = (await h.describe()).typedSearchAttributes;
    assert.equal(sa.get(SearchKey.environment), 'drill');
    assert.equal(sa.get(SearchKey.kind), 'recovery');
    assert.equal(sa.get(SearchKey.stage), 'redis');
    await sign(h, 'redis', 'approve');
    await approveAll(h, ['modules', 'config', 'logs']);
    const report = await h.result();
    assert.deepEqual(stagesRun(h), ['redis-1', 'modules-1', 'config-1', 'logs-1']);
    assert.equal(report.outcome, 'completed');
    assert.deepEqual(report.stages.map((x) => x.state), ['approved', 'approved', 'approved', 'approved']);
    assert.equal(reports.get(h.workflowId)?.outcome, 'completed', 'the report is stored');
    assert.equal((await h.describe()).typedSearchAttributes.get(SearchKey.stage), 'logs');
  });

  it('a reject stops the recovery: later stages never run, RecoveryRejected, the report records the rejection', async () => {
    const h = await start();
    await approveAll(h, ['redis']);
    await waitingOn(h, 'modules');
    await sign(h, 'modules', 'reject', 'alice', 'web answers 500');
    const f = await failure(h);
    assert.equal(f.type, ErrorType.RecoveryRejected);
    assert.match(f.message, /stage modules rejected by alice: web answers 500/);
    assert.deepEqual(stagesRun(h), ['redis-1', 'modules-1']);
    const r = reports.get(h.workflowId)!;
    assert.equal(r.outcome, 'rejected');
    assert.equal(r.stages[1]!.state, 'rejected');
    assert.deepEqual(r.stages[1]!.signOffs.map((x) => [x.decision, x.by, x.comment]), [['reject', 'alice', 'web answers 500']]);
    assert.equal(r.stages[2]!.attempts.length, 0);
  });

  it('a retry reruns only that stage, as <id>-<stage>-2', async () => {
    const h = await start();
    await approveAll(h, ['redis']);
    await waitingOn(h, 'modules');
    await sign(h, 'modules', 'retry');
    const s = await waitingOn(h, 'modules', 2);
    assert.deepEqual(stagesRun(h), ['redis-1', 'modules-1', 'modules-2']);
    assert.deepEqual(s.stages[1]!.attempts.map((a) => a.childWorkflowId), [`${h.workflowId}-modules-1`, `${h.workflowId}-modules-2`]);
    await sign(h, 'modules', 'approve');
    await approveAll(h, ['config', 'logs']);
    const report = await h.result();
    assert.deepEqual(stagesRun(h), ['redis-1', 'modules-1', 'modules-2', 'config-1', 'logs-1']);
    assert.equal(report.stages[1]!.attempts.length, 2);
  });

  it('a failed stage waits for retry or reject only, and a retry can bring it to success', async () => {
    const h = await start({ failures: { modules: 1 } });
    await approveAll(h, ['redis']);
    const s = await waitingOn(h, 'modules');
    assert.equal(s.stages[1]!.state, 'failed');
    assert.deepEqual(s.waiting!.decisions, ['retry', 'reject']);
    assert.match(s.stages[1]!.attempts[0]!.summary!, /stub modules failure #1/);
    await assert.rejects(sign(h, 'modules', 'approve'), (e: Error) => /approve is not possible: stage modules failed; retry it or reject/.test((e as WorkflowUpdateFailedError).cause?.message ?? ''));
    await sign(h, 'modules', 'retry');
    const s2 = await waitingOn(h, 'modules', 2);
    assert.equal(s2.stages[1]!.state, 'awaiting sign-off');
    await sign(h, 'modules', 'approve');
    await approveAll(h, ['config', 'logs']);
    const report = await h.result();
    assert.equal(report.outcome, 'completed');
    assert.ok(report.problems.some((p) => /modules attempt 1 failed: stub modules failure #1/.test(p)), report.problems.join('; '));
  });

  it('a failed stage can be aborted: RecoveryAborted, nothing after it runs, the report is stored', async () => {
    const h = await start({ failures: { redis: 9 } });
    await waitingOn(h, 'redis');
    await sign(h, 'redis', 'reject', 'bob', 'no usable backup');
    const f = await failure(h);
    assert.equal(f.type, ErrorType.RecoveryAborted);
    assert.deepEqual(stagesRun(h), ['redis-1']);
    assert.equal(reports.get(h.workflowId)?.outcome, 'aborted');
  });

  it('refuses a non-approver, a stage that is not waiting and a malformed decision, each with a clear reason and no trace in history', async () => {
    const h = await start();
    await waitingOn(h, 'redis');
    const refusal = async (p: Promise<unknown>) => {
      const err = await p.then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof WorkflowUpdateFailedError, `expected a refusal, got ${String(err)}`);
      assert.ok(err.cause instanceof ApplicationFailure);
      assert.equal(err.cause.type, ErrorType.SignOffRefused);
      assert.doesNotMatch(err.cause.stack ?? '', /sign-off\.(ts|js)/, 'no worker stack trace');
      return err.cause.message;
    };
    assert.equal(await refusal(sign(h, 'redis', 'approve', 'mallory')), 'mallory is not an approver for stage redis (approvers: alice, bob)');
    assert.equal(await refusal(sign(h, 'modules', 'approve', 'alice')), 'stage modules is not waiting for a sign-off; stage redis is');
    assert.equal(await refusal(sign(h, 'redis', 'yes' as Decision, 'alice')), 'decision must be one of approve, reject, retry, not "yes"');
    await sign(h, 'redis', 'approve', 'bob');
    await waitingOn(h, 'modules');
    const events = (await h.fetchHistory()).events ?? [];
    const accepted = events.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes);
    assert.equal(accepted.length, 1, 'only the accepted sign-off is in history');
    assert.equal(accepted[0]!.workflowExecutionUpdateAcceptedEventAttributes!.acceptedRequest?.input?.name, 'signOff');
    assert.ok(!events.some((e) => e.workflowExecutionUpdateRejectedEventAttributes), 'no rejected update in history');
    const s = await status(h);
    assert.deepEqual(s.stages[0]!.signOffs.map((x) => x.by), ['bob']);
    await h.terminate('test done');
  });

  it('reminds after remindAfter, escalates after escalateAfter, then keeps waiting for the sign-off', async () => {
    const h = await start();
    await waitingOn(h, 'redis');
    const mine = () => notices.filter((x) => x.workflowId === h.workflowId).map((x) => `${x.kind}:${x.stage}`);
    await env.sleep(29 * MINUTE);
    await sleep(300);
    assert.deepEqual(mine(), [], 'no reminder before remindAfter');
    await env.sleep(2 * MINUTE);
    await untilDefined('the reminder', async () => (mine().length === 1 ? true : undefined));
    assert.deepEqual(mine(), ['reminder:redis']);
    assert.deepEqual(notices.find((x) => x.workflowId === h.workflowId)!.approvers, ['alice', 'bob']);
    await env.sleep(80 * MINUTE);
    await sleep(300);
    assert.deepEqual(mine(), ['reminder:redis'], 'no escalation before escalateAfter');
    await env.sleep(10 * MINUTE);
    await untilDefined('the escalation', async () => (mine().length === 2 ? true : undefined));
    assert.deepEqual(mine(), ['reminder:redis', 'escalation:redis']);
    await env.sleep(10 * 60 * MINUTE);
    const s = await status(h);
    assert.equal(s.waiting?.stage, 'redis', 'still waiting after the escalation');
    assert.deepEqual(s.stages[0]!.notices.map((x) => [x.kind, x.delivered]), [['reminder', true], ['escalation', true]]);
    await sign(h, 'redis', 'approve');
    await approveAll(h, ['modules', 'config', 'logs']);
    assert.equal((await h.result()).outcome, 'completed');
    assert.deepEqual(mine(), ['reminder:redis', 'escalation:redis'], 'the later stages were signed off in time');
  });

  it('accepts the Signal form, and an invalid signal changes nothing', async () => {
    const h = await start();
    await waitingOn(h, 'redis');
    const before = await status(h);
    await h.signal(signOffSignal, { stage: 'redis', decision: 'approve', by: 'mallory' });
    await h.signal(signOffSignal, { stage: 'redis', decision: 'maybe' as Decision, by: 'alice' });
    await h.signal(signOffSignal, { stage: 'config', decision: 'approve', by: 'alice' });
    await sleep(500);
    assert.deepEqual(await status(h), before);
    await h.signal(signOffSignal, { stage: 'redis', decision: 'approve', by: 'bob', comment: 'counts match' });
    const s = await waitingOn(h, 'modules');
    assert.deepEqual(s.stages[0]!.signOffs.map((x) => [x.decision, x.by, x.via, x.comment]), [['approve', 'bob', 'signal', 'counts match']]);
    assert.equal(s.stages[0]!.state, 'approved');
    await h.terminate('test done');
  });

  it('the Query shows what the recovery waits for and from whom', async () => {
    const h = await start();
    const s: RecoveryStatus = await waitingOn(h, 'redis');
    assert.equal(s.outcome, 'running');
    assert.equal(s.current, 'redis');
    assert.deepEqual({ ...s.waiting, since: undefined }, { stage: 'redis', attempt: 1, approvers: ['alice', 'bob'], decisions: ['approve', 'reject', 'retry'], since: undefined });
    assert.deepEqual(s.stages.map((x) => x.state), ['awaiting sign-off', 'pending', 'pending', 'pending']);
    assert.deepEqual(s.stages.map((x) => x.approvers), [['alice', 'bob'], ['alice'], ['alice'], ['carol']]);
    await sign(h, 'redis', 'approve');
    const s2 = await waitingOn(h, 'modules');
    assert.deepEqual(s2.waiting!.approvers, ['alice']);
    assert.equal(s2.stages[0]!.signOffs[0]!.by, 'alice');
    await h.terminate('test done');
  });

  it('titan sign-off: a refusal exits 1 with the reason on one line; an approval is recorded; titan status prints the Query', async () => {
    const h = await start();
    await waitingOn(h, 'redis');
    // An environment file without temporal.encryption: this worker runs the default (plaintext) converter.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'titan-sign-off-'));
    writeFileSync(path.join(dir, 'titan.yaml'), environmentFile('signofftest'));
    const cli = (...args: string[]) => titan(['--config', path.join(dir, 'titan.yaml'), ...args], { TEMPORAL_ADDRESS: env.address, TEMPORAL_NAMESPACE: env.namespace ?? 'default' });
    const refused = await cli('sign-off', h.workflowId, '--stage', 'redis', '--approve', '--by', 'mallory');
    assert.equal(refused.code, 1);
    assert.equal(refused.stderr, 'titan: sign-off refused: mallory is not an approver for stage redis (approvers: alice, bob)\n');
    const shown = await cli('--json', 'status', h.workflowId);
    assert.equal(shown.code, 0, shown.stderr);
    assert.deepEqual((JSON.parse(shown.stdout) as RecoveryStatus).waiting?.approvers, ['alice', 'bob']);
    const ok = await cli('sign-off', h.workflowId, '--stage', 'redis', '--approve', '--by', 'bob', '--comment', 'counts match');
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^stage redis \(attempt 1\): approve by bob recorded at /);
    const s = await waitingOn(h, 'modules');
    assert.deepEqual(s.stages[0]!.signOffs.map((x) => [x.by, x.comment, x.via]), [['bob', 'counts match', 'update']]);
    await h.terminate('test done');
  });

  /** An environment file whose recoveries run on this test's worker. */
  const environmentFile = (environment: string) => `
environment: ${environment}
taskQueue: ${TASK_QUEUE}
redis: { main: { url: "redis://127.0.0.1:6390", runAs: { container: unused }, dataDir: /nonexistent } }
backups: { locations: { primary: { s3: { endpoint: "http://127.0.0.1:8333", bucket: titan-backups, accessKeyIdEnv: K, secretAccessKeyEnv: S } } } }
recovery: { approvers: { default: [alice] } }
`;

  it('titan recover starts titan-<env>-recovery, follows it until it waits for a sign-off and says how to give it', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'titan-recover-'));
    writeFileSync(path.join(dir, 'titan.yaml'), environmentFile('clitest'));
    const run = await titan(['--config', path.join(dir, 'titan.yaml'), '--json', 'recover', '--incident-at', '2026-11-25T09:00:00Z'],
      { TEMPORAL_ADDRESS: env.address, TEMPORAL_NAMESPACE: env.namespace ?? 'default' });
    const h = env.client.workflow.getHandle('titan-clitest-recovery');
    try {
      assert.equal(run.code, 0, run.stderr);
      const out = JSON.parse(run.stdout) as { workflowId: string; ui: string; status: RecoveryStatus };
      assert.equal(out.workflowId, 'titan-clitest-recovery');
      assert.equal(out.ui, `http://127.0.0.1:8233/namespaces/${env.namespace ?? 'default'}/workflows/titan-clitest-recovery`);
      assert.equal(out.status.waiting?.stage, 'redis');
      assert.equal(out.status.incidentAt, '2026-11-25T09:00:00Z');
      const d = await h.describe();
      assert.equal(await d.staticSummary(), 'Full-disaster recovery (clitest)');
      assert.match(await d.staticDetails() ?? '', /1\. \*\*redis\*\*: Restore Redis main from the latest valid backup taken before 2026-11-25T09:00:00Z — signed off by alice/);
    } finally {
      await h.terminate('test done');
    }
  });

  it('refuses a second recovery of the same environment while one runs (the CLI id, conflict policy FAIL)', async () => {
    const loaded = { env: parseEnvironment(environmentFile('drill'), 'drill.yaml'), file: 'drill.yaml', source: 'drill.yaml', resolvePath: (p: string) => p, secret: () => assert.fail('no secret needed') } satisfies LoadedEnvironment;
    const first = await startRecovery(env.client, loaded);
    assert.equal(first.workflowId, 'titan-drill-recovery');
    // Terminated mid-task, a run would keep the test server's clock from skipping for the next tests.
    await waitingOn(first, 'redis');
    try {
      await assert.rejects(startRecovery(env.client, loaded), /^Error: a recovery of drill is already running \(workflow titan-drill-recovery\)$/);
    } finally {
      await first.terminate('test done');
    }
  });

  it('computes RPO (incident minus snapshot time) and RTO (per stage and in total) into the report, with the stages\' warnings', async () => {
    const incidentAt = new Date(Date.now() - 3 * 60 * MINUTE).toISOString();
    const takenAt = new Date(Date.parse(incidentAt) - 45 * MINUTE).toISOString();
    const h = await start({
      results: {
        redis: { target: 'main', backup: { backupId: '20261125T0900Z-abc', createdAt: takenAt } },
        logs: { warnings: ['source web: 3 lines shipped late'], problems: [] },
      },
    }, incidentAt);
    await waitingOn(h, 'redis');
    await env.sleep(10 * MINUTE);
    await sign(h, 'redis', 'approve');
    await waitingOn(h, 'modules');
    await env.sleep(20 * MINUTE);
    await sign(h, 'modules', 'approve');
    await approveAll(h, ['config', 'logs']);
    const report = await h.result();
    assert.deepEqual(reports.get(h.workflowId), report);
    assert.deepEqual((runs.find((r) => r.childWorkflowId === `${h.workflowId}-redis-1`)!.input as { before?: string }).before, incidentAt, 'the backup restored is the latest before the incident');
    assert.deepEqual(report.rpo, { ms: 45 * MINUTE, incidentAt, incidentAssumed: false, snapshotAt: takenAt, backupId: '20261125T0900Z-abc' });
    const rto = Object.fromEntries(report.rto.stages.map((x) => [x.stage, x.ms!]));
    const within = (ms: number, min: number) => ms >= min * MINUTE && ms < (min + 1) * MINUTE;
    assert.ok(within(rto.redis!, 10), `redis RTO ${rto.redis}`);
    assert.ok(within(rto.modules!, 20), `modules RTO ${rto.modules}`);
    assert.ok(within(report.rto.totalMs!, 30), `total RTO ${report.rto.totalMs}`);
    assert.deepEqual(report.warnings, ['logs: source web: 3 lines shipped late']);
    const md = renderRecoveryReport(report);
    assert.match(md, /- RPO: 45m \(snapshot 20261125T0900Z-abc taken /);
    assert.match(md, /- RTO \(start to last stage approved\): 30m/);
    assert.match(md, /\| redis \| approved \| 1 \| .* \| 10m \| restored 20261125T0900Z-abc \(taken .*\) into Redis main and verified it \|/);
    assert.match(md, /- warning: logs: source web: 3 lines shipped late/);
  });
});
