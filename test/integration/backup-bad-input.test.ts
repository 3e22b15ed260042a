// Bad input gets one clear error and nothing is written: a malformed environment file, a wrong
// Redis password, a missing bucket.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import type { Client } from '@temporalio/client';
import { footprint, stores } from '../helpers/backups';
import { titan } from '../helpers/cli';
import { type RedisServer, startRedisServer } from '../helpers/redis-server';
import { temporalClient } from '../helpers/stack';
import { type TestEnv, writeTestEnvironment } from '../helpers/titan-env';
import { startWorker } from '../helpers/worker';

describe('backup: bad input', function () {
  let redis: RedisServer;
  let client: Client;

  before(async () => {
    redis = await startRedisServer();
    await redis.client().set('k', 'v');
    client = await temporalClient();
  });
  after(async () => {
    await client?.connection.close();
    await redis?.stop();
  });

  async function assertNothingWritten(env: TestEnv) {
    for (const store of stores(env)) {
      const f = await footprint(store, env).catch((err) => ({ objects: [`${err}`], uploads: 0 }));
      assert.deepEqual(f, { objects: [], uploads: 0 }, `${store.name} location`);
    }
    assert.equal((await client.workflow.count(`TitanEnvironment = "${env.environment}"`)).count, 0, 'no workflow started');
  }

  function oneLine(stderr: string): string {
    const lines = stderr.trim().split('\n');
    assert.equal(lines.length, 1, `one line on stderr, got: ${stderr}`);
    return lines[0]!;
  }

  it('a malformed environment file: one line naming the field, no workflow, nothing stored', async () => {
    const env = writeTestEnvironment({ redisUrl: redis.url, redisPasswordEnv: 'TITAN_TEST_REDIS_PASSWORD' });
    const text = readFileSync(env.file, 'utf8').replace(/partSizeMiB: 5/, 'partSizeMiB: 2');
    writeFileSync(env.file, text);
    const run = await titan(['--config', env.file, 'backup'], { TITAN_TEST_REDIS_PASSWORD: redis.password });
    assert.equal(run.code, 1);
    assert.match(oneLine(run.stderr), /^titan: .*titan\.yaml: backups\.partSizeMiB: .*5/);
    await assertNothingWritten(env);
  });

  it('a wrong Redis password: one line saying the credentials were refused, nothing stored', async () => {
    const env = writeTestEnvironment({ redisUrl: redis.url, redisPasswordEnv: 'TITAN_TEST_REDIS_PASSWORD' });
    process.env.TITAN_TEST_REDIS_PASSWORD = 'not-the-password';
    const worker = await startWorker(env);
    try {
      const run = await titan(['--config', env.file, '--json', 'backup'], { TITAN_TEST_REDIS_PASSWORD: 'not-the-password' });
      assert.equal(run.code, 1);
      assert.match(oneLine(run.stderr), /^titan: Redis redis:\/\/127\.0\.0\.1:\d+ refused the credentials: WRONGPASS/);
      assert.doesNotMatch(run.stderr + run.stdout, /not-the-password/, 'the secret is never printed');
      for (const store of stores(env)) assert.deepEqual(await footprint(store, env), { objects: [], uploads: 0 });
    } finally {
      await worker.stop();
      process.env.TITAN_TEST_REDIS_PASSWORD = redis.password;
    }
  });

  it('a missing bucket: one line naming the location and bucket, nothing stored anywhere', async () => {
    const env = writeTestEnvironment({ redisUrl: redis.url, redisPasswordEnv: 'TITAN_TEST_REDIS_PASSWORD', primaryBucket: 'titan-no-such-bucket' });
    process.env.TITAN_TEST_REDIS_PASSWORD = redis.password;
    const worker = await startWorker(env);
    try {
      const run = await titan(['--config', env.file, '--json', 'backup'], { TITAN_TEST_REDIS_PASSWORD: redis.password });
      assert.equal(run.code, 1);
      assert.match(oneLine(run.stderr), /^titan: primary backup location http:\/\/127\.0\.0\.1:8333\/titan-no-such-bucket: bucket does not exist$/);
      const [primary, offsite] = stores(env);
      await assert.rejects(primary!.checkBucket(), /bucket does not exist/, 'the bucket was not created');
      assert.deepEqual(await footprint(offsite!, env), { objects: [], uploads: 0 });
    } finally {
      await worker.stop();
    }
  });
});
