// A worker crash in the middle of a restore's download: the retry resumes with a ranged GET from
// the last flushed offset, and the restored data is exact.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { DownloadProgress } from '../../src/infra/restore-staging';
import { SEGMENT_BYTES } from '../../src/lib/manifest';
import type { RedisRestoreResult } from '../../src/workflows/redis-restore';
import { runBackup } from '../helpers/backups';
import { heartbeatOf } from '../helpers/payloads';
import { type ManagedRedis, startManagedRedis } from '../helpers/managed-redis';
import { temporalClient, uniqueName } from '../helpers/stack';
import { type TestEnv, writeTestEnvironment } from '../helpers/titan-env';
import { until } from '../helpers/wait';
import { spawnWorker } from '../helpers/worker';

describe('redisRestore: faults', function () {
  let client: Client;
  let prod: ManagedRedis;
  let env: TestEnv;

  before(async () => {
    client = await temporalClient();
    // ~600 MiB, uncompressed, so the download is still running when we strike.
    prod = await startManagedRedis({ extra: ['rdbcompression no'] });
    process.env.TITAN_TEST_FAULT_PASSWORD = prod.password;
    await prod.client().call('DEBUG', 'POPULATE', '600000', 'restore', '1024');
    env = writeTestEnvironment({ instances: { main: prod.instance('TITAN_TEST_FAULT_PASSWORD') }, offsite: false, partSizeMiB: 16 });
  });
  after(async () => {
    await prod?.stop();
    await client?.connection.close();
  });

  /** Restores main with the worker SIGKILLed mid-download and restarted; returns the last heartbeat before the kill and the result. */
  async function killDuringDownload(e: TestEnv): Promise<{ progress: DownloadProgress; r: RedisRestoreResult }> {
    let worker: ChildProcess = spawnWorker(e);
    try {
      await runBackup(client, e);
      const digest = await prod.client().call('DEBUG', 'DIGEST');
      await prod.client().flushall();

      const handle = await client.workflow.start('redisRestore', { taskQueue: e.taskQueue, workflowId: uniqueName('restore-kill'), args: [{ redis: 'main' }] });
      const progress = await until('a download heartbeat', async () => {
        const pending = (await handle.describe()).raw.pendingActivities?.find((a) => a.activityType?.name === 'stageBackup');
        const p = await heartbeatOf<DownloadProgress>(client, pending);
        return p && p.bytes > 0 && p.bytes < p.totalBytes ? p : undefined;
      });
      worker.kill('SIGKILL');
      await once(worker, 'exit');
      const staging = path.join(prod.dataDir, '.titan-restore');
      const partial = statSync(path.join(staging, readdirSync(staging).find((f) => f.endsWith('.partial'))!)).size;
      assert.ok(partial >= progress.bytes, `the killed attempt left ${partial} bytes, at least the ${progress.bytes} it heartbeated`);

      worker = spawnWorker(e);
      const r: RedisRestoreResult = await handle.result();
      assert.ok(r.backup.resumedAt < r.backup.bytes);
      assert.equal(await prod.client().call('DEBUG', 'DIGEST'), digest, 'DEBUG DIGEST of the whole dataset matches');
      assert.deepEqual(r.verification.problems, []);
      return { progress, r };
    } finally {
      worker.kill('SIGTERM');
      await once(worker, 'exit');
    }
  }

  it('the worker killed (SIGKILL) during the download, then restarted: the download resumes and the data is exact', async () => {
    const { progress, r } = await killDuringDownload(env);
    assert.ok(r.backup.resumedAt >= progress.bytes, `resumed at ${r.backup.resumedAt}, not from zero`);
  });

  it('an encrypted backup: the download resumes at the last durable segment boundary, and the data is exact', async () => {
    process.env.TITAN_TEST_FAULT_KEY = randomBytes(32).toString('base64');
    const encrypted = writeTestEnvironment({
      instances: { main: prod.instance('TITAN_TEST_FAULT_PASSWORD') }, offsite: false, partSizeMiB: 16,
      encryption: { current: 'f1', keys: { f1: { keyEnv: 'TITAN_TEST_FAULT_KEY' } } },
    });
    const { progress, r } = await killDuringDownload(encrypted);
    assert.ok(progress.noncePrefix, 'the heartbeat carries the nonce prefix');
    assert.ok(r.backup.resumedAt > 0, 'resumed, not from zero');
    assert.equal(r.backup.resumedAt % SEGMENT_BYTES, 0);
    assert.ok(r.backup.resumedAt > progress.bytes - SEGMENT_BYTES, `resumed at ${r.backup.resumedAt}, the heartbeat said ${progress.bytes}`);
  });
});
