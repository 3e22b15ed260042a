// redisRestore into a Redis running in a container on the stack's Docker engine: stopped through
// the engine without saving, its bind-mounted data replaced with files the container's user
// (uid 999) owns, the same container started again.
import assert from 'node:assert/strict';
import { chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import Docker from 'dockerode';
import Redis from 'ioredis';
import { runBackup, runRestore, seedDataset, sha256 } from '../helpers/backups';
import { datasetDigest } from '../helpers/dataset';
import { freePort } from '../helpers/redis-server';
import { dockerSocket, REDIS_IMAGE, temporalClient, uniqueName } from '../helpers/stack';
import { type TestEnv, writeTestEnvironment } from '../helpers/titan-env';
import { until } from '../helpers/wait';
import { startWorker } from '../helpers/worker';

describe('redisRestore: Redis in a container', function () {
  const docker = new Docker({ socketPath: dockerSocket });
  let client: Client;
  let root: string;
  let container: Docker.Container;
  let env: TestEnv;
  let worker: { stop(): Promise<void> };
  const clients: Redis[] = [];
  let port: number;
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  const redis = (db = 0) => {
    const c = new Redis({ host: '127.0.0.1', port, password, db, maxRetriesPerRequest: 1 });
    c.on('error', () => undefined);
    clients.push(c);
    return c;
  };

  before(async () => {
    client = await temporalClient();
    root = mkdtempSync(path.join(os.tmpdir(), 'titan-container-redis-'));
    const dataDir = path.join(root, 'data');
    mkdirSync(dataDir, { mode: 0o700 });
    chownSync(dataDir, 999, 999);
    port = await freePort();
    const conf = path.join(root, 'redis.conf');
    writeFileSync(conf, `port ${port}\nbind 127.0.0.1\nrequirepass ${password}\ndir /data\nappendonly no\nsave ""\nrepl-diskless-sync-delay 0\n`, { mode: 0o600 });
    chownSync(conf, 999, 999);
    // unless-stopped: the restore's stop must not be undone by the engine's restart policy.
    container = await docker.createContainer({
      name: uniqueName('titan-test-redis'),
      Image: REDIS_IMAGE,
      Cmd: ['/etc/redis/redis.conf'],
      HostConfig: { NetworkMode: 'host', Binds: [`${dataDir}:/data`, `${conf}:/etc/redis/redis.conf:ro`], RestartPolicy: { Name: 'unless-stopped' } },
    });
    await container.start();
    await until('the containerised Redis answering', async () => ((await redis().ping()) === 'PONG' ? true : undefined));
    process.env.TITAN_TEST_CONTAINER_PASSWORD = password;
    env = writeTestEnvironment({
      docker: { socketPath: dockerSocket },
      instances: { main: { url: `redis://127.0.0.1:${port}`, passwordEnv: 'TITAN_TEST_CONTAINER_PASSWORD', runAs: { container: (await container.inspect()).Name.slice(1) }, dataDir, persistence: 'rdb' } },
    });
    worker = await startWorker(env);
    await seedDataset(redis);
  });
  after(async () => {
    clients.forEach((c) => c.disconnect());
    await worker?.stop();
    await container?.remove({ force: true }).catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
    await client?.connection.close();
  });

  it('the data destroyed → restored into the same container: every key back, files owned by uid 999, mode 600', async () => {
    const backup = await runBackup(client, env);
    const expected = await datasetDigest(redis);
    const before = await container.inspect();
    await redis().flushall();

    const r = await runRestore(client, env, { redis: 'main' });
    assert.equal(r.backup.backupId, backup.backupId);
    assert.deepEqual(r.verification.problems, []);
    assert.deepEqual(await datasetDigest(redis), expected);
    const after = await container.inspect();
    assert.equal(after.Id, before.Id, 'the same container');
    assert.equal(after.State.Running, true);
    assert.notEqual(after.State.StartedAt, before.State.StartedAt, 'it was stopped and started again');
    assert.equal(after.RestartCount, before.RestartCount, 'the engine did not restart it on its own');
    const dump = path.join(root, 'data', 'dump.rdb');
    const st = statSync(dump);
    assert.deepEqual([st.uid, st.gid, st.mode & 0o777], [999, 999, 0o600]);
    assert.equal(sha256(readFileSync(dump)), backup.sha256);
  });
});
