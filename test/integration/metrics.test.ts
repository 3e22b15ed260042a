// The worker's Prometheus endpoint: the Temporal runtime's metrics and Titan's own — the age of
// the newest valid backup right after a backup, the result of the last restore, the duration of
// recovery stages.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { Client } from '@temporalio/client';
import type { RecoveryStatus } from '../../src/lib/recovery-report';
import { failureOf, runBackup, runRestore } from '../helpers/backups';
import { type ManagedRedis, startManagedRedis } from '../helpers/managed-redis';
import { freePort } from '../helpers/redis-server';
import { temporalClient } from '../helpers/stack';
import { type TestEnv, writeTestEnvironment } from '../helpers/titan-env';
import { until } from '../helpers/wait';
import { spawnWorker } from '../helpers/worker';

describe('worker metrics (Prometheus)', function () {
  let client: Client;
  let redis: ManagedRedis;
  let env: TestEnv;
  let worker: ChildProcess;
  let address: string;

  const metrics = async () => (await fetch(`http://${address}/metrics`)).text();
  const value = (text: string, name: string, labels: string) => {
    const m = new RegExp(`^${name}\\{[^}]*${labels}[^}]*\\} (\\S+)$`, 'm').exec(text);
    return m ? Number(m[1]) : undefined;
  };

  before(async () => {
    client = await temporalClient();
    redis = await startManagedRedis();
    process.env.TITAN_TEST_METRICS_PASSWORD = redis.password;
    await redis.client().set('k', 'v');
    env = writeTestEnvironment({ instances: { main: redis.instance('TITAN_TEST_METRICS_PASSWORD') }, offsite: false, recovery: { stages: ['redis'], approvers: { default: ['alice'] } } });
    address = `127.0.0.1:${await freePort()}`;
    worker = spawnWorker(env, { TITAN_METRICS_ADDRESS: address });
    await until('the metrics endpoint', async () => (await fetch(`http://${address}/metrics`)).ok || undefined);
  });
  after(async () => {
    worker?.kill('SIGTERM');
    if (worker) await once(worker, 'exit');
    await redis?.stop();
    await client?.connection.close();
  });

  it("serves the runtime's worker metrics and the newest valid backup's age right after a backup", async () => {
    await runBackup(client, env);
    const text = await metrics();
    assert.match(text, /^temporal_worker_task_slots_available\{/m, "the SDK's runtime metrics");
    const age = value(text, 'titan_backup_newest_valid_age_seconds', 'redis="main"');
    assert.ok(age !== undefined && age >= 0 && age < 120, `age ${age}`);
  });

  it('the last restore: 1 after a verified one, 0 after one that found no valid backup', async () => {
    await runRestore(client, env, { redis: 'main' });
    assert.equal(value(await metrics(), 'titan_restore_last_success', 'redis="main"'), 1);
    assert.match((await failureOf(runRestore(client, env, { redis: 'main', before: '2000-01-01T00:00:00Z' }))).message, /no valid backup/);
    const text = await metrics();
    assert.equal(value(text, 'titan_restore_last_success', 'redis="main"'), 0);
    assert.ok(Date.now() / 1000 - value(text, 'titan_restore_last_timestamp_seconds', 'redis="main"')! < 60);
  });

  it('a recovery stage\'s duration is recorded in the stage histogram when its report is stored', async () => {
    const handle = await client.workflow.start('fullDisasterRecovery', { taskQueue: env.taskQueue, workflowId: `${env.environment}-metrics-recovery`, args: [{}] });
    await until('the redis stage waiting', async () => (await handle.query<RecoveryStatus>('recoveryStatus')).waiting || undefined);
    await handle.executeUpdate('signOff', { args: [{ stage: 'redis', decision: 'approve', by: 'alice' }] });
    await handle.result();
    const text = await metrics();
    assert.equal(value(text, 'titan_recovery_stage_duration_seconds_count', 'stage="redis"'), 1);
    assert.ok(value(text, 'titan_recovery_stage_duration_seconds_bucket', 'le="3600"') === 1, 'buckets in seconds up to an hour');
  });

  it('an address that is not loopback is refused at start, naming it', async () => {
    const bad = spawnWorker(env, { TITAN_METRICS_ADDRESS: '0.0.0.0:9464' }, 'ignore', 'pipe');
    let stderr = '';
    bad.stderr!.on('data', (d) => (stderr += d));
    const [code] = await once(bad, 'exit');
    assert.equal(code, 1);
    assert.match(stderr, /TITAN_METRICS_ADDRESS "0\.0\.0\.0:9464" must be a loopback address/);
  });
});
