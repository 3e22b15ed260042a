// The full-disaster activities against real services: the webhook against a local HTTP receiver
// (a failure retries and never reveals the secret URL), the report against the stack's S3.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApplicationFailure } from '@temporalio/common';
import { buildDeps } from '../../src/deps';
import { createRecoveryActivities, type RecoveryNotice } from '../../src/activities/full-disaster';
import { readRecoveryReport } from '../../src/infra/recovery-reports';
import { type RecoveryReport } from '../../src/lib/recovery-report';
import { writeTestEnvironment } from '../helpers/titan-env';

const TOKEN = 'T0K3N-s3cr3t-9f2c';
const URL_ENV = 'TITAN_TEST_RECOVERY_WEBHOOK_URL';

const notice: RecoveryNotice = {
  kind: 'reminder', workflowId: 'titan-t-recovery', environment: 't', stage: 'redis', attempt: 1,
  waitingSince: '2026-11-25T09:00:00.000Z', approvers: ['alice', 'bob'],
};

describe('full-disaster activities (real HTTP receiver, real S3)', function () {
  let server: Server;
  let url: string;
  const received: { path: string; body: any }[] = [];
  let answer = 503;

  before(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        received.push({ path: req.url ?? '', body: JSON.parse(body) });
        res.writeHead(answer).end(answer === 200 ? 'ok' : 'unavailable');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/${TOKEN}`;
    process.env[URL_ENV] = url;
  });

  after(async () => {
    delete process.env[URL_ENV];
    await new Promise((resolve) => server.close(resolve));
  });

  const activities = () => createRecoveryActivities(buildDeps(writeTestEnvironment({
    redisUrl: 'redis://127.0.0.1:6390',
    recovery: { approvers: { default: ['alice'] }, webhook: { urlEnv: URL_ENV } },
  }).loaded));

  it('a 503 fails retryably, and the message names neither the URL nor its token', async () => {
    answer = 503;
    const err = await activities().notifyRecovery(notice).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof Error, 'it throws');
    assert.ok(!(err instanceof ApplicationFailure && err.nonRetryable), 'retryable');
    assert.equal(err.message, `recovery webhook (${URL_ENV}) answered HTTP 503`);
    assert.ok(!err.message.includes(url) && !err.message.includes(TOKEN) && !String(err.stack).includes(TOKEN));
    assert.equal(received.length, 1, 'the receiver got the notice');
  });

  it('an unreachable receiver fails retryably without the URL either', async () => {
    const acts = activities();
    process.env[URL_ENV] = `http://127.0.0.1:9/hooks/${TOKEN}`; // the discard port: nothing listens
    try {
      const err = await acts.notifyRecovery(notice).then(() => undefined, (e: unknown) => e) as Error;
      assert.match(err.message, new RegExp(`^recovery webhook \\(${URL_ENV}\\) unreachable: `));
      assert.ok(!err.message.includes(TOKEN) && !err.message.includes('127.0.0.1'));
    } finally {
      process.env[URL_ENV] = url;
    }
  });

  it('a 2xx delivers the notice as JSON with a line for people', async () => {
    answer = 200;
    received.length = 0;
    assert.equal(await activities().notifyRecovery({ ...notice, kind: 'escalation' }), true);
    assert.equal(received[0]!.path, `/hooks/${TOKEN}`);
    assert.deepEqual({ ...received[0]!.body, text: undefined }, { ...notice, kind: 'escalation', text: undefined });
    assert.match(received[0]!.body.text, /^ESCALATION: Titan recovery titan-t-recovery \(t\): stage redis \(attempt 1\) has waited since .* for a sign-off from alice or bob$/);
  });

  it('without a webhook, a notice is a no-op returning false', async () => {
    const acts = createRecoveryActivities(buildDeps(writeTestEnvironment({ redisUrl: 'redis://127.0.0.1:6390', recovery: { approvers: { default: ['alice'] } } }).loaded));
    received.length = 0;
    assert.equal(await acts.notifyRecovery(notice), false);
    assert.equal(received.length, 0);
  });

  it('stores the report as Markdown and JSON beside the backups (a retry overwrites), and reads the newest run back', async () => {
    const env = writeTestEnvironment({ redisUrl: 'redis://127.0.0.1:6390', offsite: false });
    const acts = createRecoveryActivities(buildDeps(env.loaded));
    const report = (runId: string): RecoveryReport => ({
      workflowId: 'titan-t-recovery', runId, environment: env.environment, outcome: 'rejected', startedAt: '2026-11-25T09:00:00.000Z', endedAt: '2026-11-25T09:30:00.000Z',
      stages: [{ name: 'redis', summary: 'Restore Redis main', approvers: ['alice'], state: 'rejected', notices: [],
        attempts: [{ attempt: 1, childWorkflowId: 'titan-t-recovery-redis-1', startedAt: '2026-11-25T09:00:01.000Z', endedAt: '2026-11-25T09:05:00.000Z', outcome: 'succeeded', summary: 'restored b1' }],
        signOffs: [{ stage: 'redis', decision: 'reject', by: 'alice', comment: 'wrong snapshot', attempt: 1, at: '2026-11-25T09:30:00.000Z', via: 'update' }] }],
      warnings: [], problems: [], rto: { stages: [{ stage: 'redis' }] },
    });
    const first = await acts.storeRecoveryReport({ workflowId: 'titan-t-recovery', runId: 'run-a', report: report('run-a') });
    assert.equal(first.markdownKey, `${env.prefix}_recoveries/titan-t-recovery/run-a/report.md`);
    assert.equal(first.jsonKey, `${env.prefix}_recoveries/titan-t-recovery/run-a/report.json`);
    await acts.storeRecoveryReport({ workflowId: 'titan-t-recovery', runId: 'run-a', report: report('run-a') });
    await new Promise((r) => setTimeout(r, 1100)); // S3 times have one-second resolution
    await acts.storeRecoveryReport({ workflowId: 'titan-t-recovery', runId: 'run-b', report: report('run-b') });
    const store = buildDeps(env.loaded).stores.primary;
    const newest = await readRecoveryReport(store, 'titan-t-recovery');
    assert.equal(newest?.report.runId, 'run-b');
    const a = await readRecoveryReport(store, 'titan-t-recovery', 'run-a');
    assert.deepEqual(a?.report, report('run-a'));
    assert.match(a!.markdown, /^# Recovery of t-.*: rejected$/m);
    assert.match(a!.markdown, /\*\*reject\*\* by alice \(update\): wrong snapshot/);
    assert.equal(await readRecoveryReport(store, 'titan-t-other'), undefined);
  });
});
