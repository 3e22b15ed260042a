// Payload key rotation on the real dev server: a recovery started under key A keeps running and
// stays readable once B is current (A kept); with A removed too early `titan status` and the
// worker log name key A; with A back it completes. A worker without its current key refuses to start.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { Client } from '@temporalio/client';
import { buildDataConverter } from '../../src/deps';
import { encryptedPayloadsByKey } from '../../src/infra/payload-codec';
import { recoveryStatusQuery } from '../../src/lib/messages';
import { titan } from '../helpers/cli';
import { temporalClient } from '../helpers/stack';
import { setPayloadEncryption, type TestEnv, writeTestEnvironment } from '../helpers/titan-env';
import { until } from '../helpers/wait';
import { spawnWorker } from '../helpers/worker';

const KA = { keyEnv: 'TITAN_TEST_PAYLOAD_KA' };
const KB = { keyEnv: 'TITAN_TEST_PAYLOAD_KB' };

describe('payload key rotation (real dev server)', function () {
  let env: TestEnv;
  let worker: ChildProcess | undefined;
  let workerLog = '';
  let client: Client;

  before(() => {
    process.env[KA.keyEnv] = randomBytes(32).toString('base64');
    process.env[KB.keyEnv] = randomBytes(32).toString('base64');
    // The redis stage fails at once (no Redis to inspect, no backups) and the recovery waits for a sign-off.
    env = writeTestEnvironment({ redisUrl: 'redis://127.0.0.1:1', offsite: false, recovery: { stages: ['redis'], approvers: { default: ['alice'] } }, payloadEncryption: { current: 'ka', keys: { ka: KA } } });
  });
  after(async () => {
    await stopWorker();
    await client?.connection.close();
  });

  async function restartWorker(keys: Parameters<typeof setPayloadEncryption>[1]) {
    await stopWorker();
    setPayloadEncryption(env, keys);
    workerLog = '';
    worker = spawnWorker(env, {}, 'ignore', 'pipe');
    worker.stderr!.on('data', (d) => (workerLog += d));
  }
  async function stopWorker() {
    if (!worker) return;
    worker.kill('SIGTERM');
    if (worker.exitCode === null) await once(worker, 'exit');
    worker = undefined;
  }
  const cli = (...args: string[]) => titan(['--config', env.file, ...args]);

  it('A → B current: the recovery under A goes on; A removed: titan status and the worker name key ka; A back: it completes', async () => {
    await restartWorker({ current: 'ka', keys: { ka: KA } });
    const started = await cli('--json', '--wait-for-worker', 'recover');
    assert.equal(started.code, 0, started.stderr);
    const id = JSON.parse(started.stdout).workflowId as string;

    await restartWorker({ current: 'kb', keys: { ka: KA, kb: KB } });
    const rotated = await cli('status');
    assert.equal(rotated.code, 0, rotated.stderr);
    assert.match(rotated.stdout, /for alice to sign off stage redis/);

    await restartWorker({ current: 'kb', keys: { kb: KB } });
    const t0 = Date.now();
    const missing = await cli('status');
    console.log(`      titan status with key ka missing answered in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^titan: recovery \S+ cannot be read: its history needs payload key ka, which is not configured \(temporal\.encryption\.keys\)/);
    assert.equal(missing.stderr.trim().split('\n').length, 1, 'one line');
    // The worker meets the history only when it has a task for it: a Query gives it one.
    const probe = await temporalClient(buildDataConverter(env.loaded));
    const query = probe.workflow.getHandle(id).query(recoveryStatusQuery).catch(() => undefined);
    await until('the worker log naming key ka', async () => /titan worker: cannot decode a Temporal payload: payload key ka not configured/.test(workerLog) || undefined, 30_000);
    await query;
    await probe.connection.close();

    await restartWorker({ current: 'kb', keys: { ka: KA, kb: KB } });
    const rejected = await cli('sign-off', '--stage', 'redis', '--reject', '--by', 'alice', '--comment', 'rotation test');
    assert.equal(rejected.code, 0, rejected.stderr);
    client = await temporalClient(buildDataConverter(env.loaded));
    const handle = client.workflow.getHandle(id);
    // Ended: its (encrypted) failure and its status read back, from payloads under ka and kb.
    await assert.rejects(handle.result(), (err: Error) => /aborted by alice: rotation test/.test((err.cause as Error).message));
    const status = await handle.query(recoveryStatusQuery);
    assert.equal(status.outcome, 'aborted');
    assert.equal(status.stages[0]!.attempts[0]!.outcome, 'failed');
    assert.deepEqual(status.stages[0]!.signOffs.map((x) => [x.by, x.decision, x.comment]), [['alice', 'reject', 'rotation test']]);
    assert.deepEqual([...encryptedPayloadsByKey(await handle.fetchHistory()).keys()].sort(), ['ka', 'kb'], 'the history holds payloads under both keys');
  });

  it('a worker whose current key is not configured refuses to start, naming it', async () => {
    await stopWorker();
    setPayloadEncryption(env, { current: 'kc', keys: { kb: KB, kc: { keyEnv: 'TITAN_TEST_PAYLOAD_KC_UNSET' } } });
    const w = spawnWorker(env, {}, 'ignore', 'pipe');
    let stderr = '';
    w.stderr!.on('data', (d) => (stderr += d));
    const [code] = await once(w, 'exit');
    assert.equal(code, 1);
    assert.match(stderr, /^titan worker: key kc not configured: secret TITAN_TEST_PAYLOAD_KC_UNSET \(temporal\.encryption\.keys\.kc\.keyEnv\) is not set/);
    assert.equal(stderr.trim().split('\n').length, 1, 'one line');
  });
});
