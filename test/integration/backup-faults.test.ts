// Faults during a backup: the worker SIGKILLed mid-upload (to the primary, and to a locked
// off-site location), and S3 unreachable for a while.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { Client } from '@temporalio/client';
import { verifyStoredBackup } from '../../src/infra/backup-verify';
import { footprint, stores } from '../helpers/backups';
import { lastFailureOf } from '../helpers/payloads';
import { type RedisServer, startRedisServer } from '../helpers/redis-server';
import { stackCtl, temporalClient, uniqueName } from '../helpers/stack';
import { type TestEnv, writeTestEnvironment } from '../helpers/titan-env';
import { sleep, until } from '../helpers/wait';
import { spawnWorker, startWorker } from '../helpers/worker';

async function exactlyOneValidBackup(env: TestEnv, backupId: string) {
  for (const store of stores(env)) {
    assert.deepEqual(await footprint(store, env), { objects: [backupId], uploads: 0 }, `${store.name}: one backup, no orphan multipart upload`);
    const verdict = await verifyStoredBackup(store, 'main', backupId);
    assert.equal(verdict.valid, true, verdict.problems.join('; '));
  }
}

describe('backup: faults', function () {
  let redis: RedisServer;
  let client: Client;

  before(async () => {
    // ~400 MiB of incompressible-enough values so the upload is still running when we strike.
    redis = await startRedisServer(['--rdbcompression', 'no']);
    process.env.TITAN_TEST_REDIS_PASSWORD = redis.password;
    await redis.client().call('DEBUG', 'POPULATE', '400000', 'fault', '1024');
    client = await temporalClient();
  });
  after(async () => {
    await client?.connection.close();
    await redis?.stop();
  });

  /** Starts a backup, SIGKILLs the worker while it uploads to `target`, restarts it; returns the backup id. */
  async function killMidUpload(env: TestEnv, target: 'primary' | 'offsite', retentionClass: 'hourly' | 'daily'): Promise<string> {
    const store = stores(env).find((s) => s.name === target)!;
    let worker: ChildProcess = spawnWorker(env);
    const handle = await client.workflow.start('redisBackup', { taskQueue: env.taskQueue, workflowId: uniqueName('kill'), args: [{ redis: 'main', retentionClass }] });
    // Strike once the multipart upload is under way.
    await until('a multipart upload in progress', async () => (await footprint(store, env)).uploads > 0 || undefined, 180_000);
    await sleep(300);
    worker.kill('SIGKILL');
    await new Promise((r) => worker.once('exit', r));
    assert.equal((await footprint(store, env)).uploads, 1, 'the killed attempt left its multipart upload behind');

    worker = spawnWorker(env);
    try {
      const result = await handle.result();
      await exactlyOneValidBackup(env, result.backupId);
      const history = await handle.fetchHistory();
      const attempts = history.events!.filter((e) => e.activityTaskStartedEventAttributes).map((e) => e.activityTaskStartedEventAttributes!.attempt);
      assert.ok(attempts.some((a) => a! >= 2), `the ${target} upload was retried after the crash`);
      return result.backupId;
    } finally {
      worker.kill('SIGTERM');
      const [code] = await once(worker, 'exit');
      assert.equal(code, 0, 'the worker shuts down gracefully on SIGTERM');
    }
  }

  it('the worker killed (SIGKILL) during the upload, then restarted: exactly one valid backup, no orphan multipart upload', async () => {
    await killMidUpload(writeTestEnvironment({ redisUrl: redis.url, redisPasswordEnv: 'TITAN_TEST_REDIS_PASSWORD' }), 'primary', 'daily');
  });

  it('the worker killed during the upload to a locked off-site location: one valid, locked backup; no other version, nothing half-locked', async () => {
    // GOVERNANCE, and a test-only 3-minute hourly retention: the root hook can still remove the 400 MiB.
    const env = writeTestEnvironment({ redisUrl: redis.url, redisPasswordEnv: 'TITAN_TEST_REDIS_PASSWORD', offsiteLock: 'GOVERNANCE', retention: { hourlyHours: 0.05 } });
    const backupId = await killMidUpload(env, 'offsite', 'hourly');
    const offsite = stores(env).find((s) => s.name === 'offsite')!;
    const keys = offsite.keys('main', backupId);
    assert.deepEqual((await offsite.versions(env.prefix)).map((v) => v.key).sort(), [keys.object, keys.manifest], 'one version each of the snapshot and the manifest, no delete marker');
    const [entry] = await offsite.list('main');
    assert.equal(entry?.lock?.mode, 'GOVERNANCE');
    assert.equal(entry?.lockProblem, undefined);
  });

  it('S3 unreachable for a while: the backup retries, then completes', async () => {
    const env = writeTestEnvironment({ redisUrl: redis.url, redisPasswordEnv: 'TITAN_TEST_REDIS_PASSWORD', offsite: false });
    const worker = await startWorker(env);
    stackCtl('stop', 's3-primary');
    try {
      const handle = await client.workflow.start('redisBackup', { taskQueue: env.taskQueue, workflowId: uniqueName('s3down'), args: [{ redis: 'main', retentionClass: 'daily' }] });
      await until('a failed attempt against the stopped S3', async () => {
        const pending = (await handle.describe()).raw.pendingActivities?.[0];
        return (pending?.attempt ?? 0) >= 3 && (await lastFailureOf(client, pending)) ? pending : undefined;
      });
      stackCtl('start', 's3-primary');
      const result = await handle.result();
      await exactlyOneValidBackup(env, result.backupId);
    } finally {
      stackCtl('start', 's3-primary');
      await worker.stop();
    }
  });
});
