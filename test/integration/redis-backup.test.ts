// redisBackup against the real stack: Temporal dev server, SeaweedFS (two locations), a real Redis.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { verifyStoredBackup } from '../../src/infra/backup-verify';
import { createRedisBackupActivities, type RetentionReport } from '../../src/activities/redis-backup';
import { buildDeps } from '../../src/deps';
import { openRdbSync } from '../../src/infra/redis-sync';
import { RdbVerifier } from '../../src/lib/rdb';
import { newBackupId, parseKeyspace } from '../../src/lib/manifest';
import { putBackup, readObject, runBackup, seedDataset, sha256, stores } from '../helpers/backups';
import { type RedisServer, startRedisServer } from '../helpers/redis-server';
import { titan } from '../helpers/cli';
import { temporalClient } from '../helpers/stack';
import { type TestEnv, writeTestEnvironment } from '../helpers/titan-env';
import { startWorker } from '../helpers/worker';

describe('redisBackup on the real stack', function () {
  let redis: RedisServer;
  let env: TestEnv;
  let worker: { stop(): Promise<void> };
  let client: Client;
  let expectedCounts: ReturnType<typeof parseKeyspace>;

  before(async () => {
    redis = await startRedisServer();
    process.env.TITAN_TEST_REDIS_PASSWORD = redis.password;
    await seedDataset(redis.client);
    expectedCounts = parseKeyspace(await redis.client().info('keyspace'));
    env = writeTestEnvironment({ redisUrl: redis.url, redisPasswordEnv: 'TITAN_TEST_REDIS_PASSWORD' });
    worker = await startWorker(env);
    client = await temporalClient();
  });

  after(async () => {
    await worker?.stop();
    await client?.connection.close();
    await redis?.stop();
  });

  let first: Awaited<ReturnType<typeof runBackup>>;

  it('takes a backup that redis-check-rdb accepts, whose manifest sha256, crc64 and key counts match', async () => {
    first = await runBackup(client, env);
    const [primary] = stores(env);
    const manifest = (await primary!.readManifest('main', first.backupId))!;
    const rdb = await readObject(primary!, primary!.keys('main', first.backupId).object);
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'titan-rdb-')), 'dump.rdb');
    writeFileSync(file, rdb);

    assert.match(execFileSync('redis-check-rdb', [file], { encoding: 'utf8' }), /RDB looks OK/);
    assert.equal(manifest.bytes, rdb.length);
    assert.equal(manifest.sha256, sha256(rdb));
    assert.equal(manifest.crc64, Buffer.from(rdb.subarray(-8)).reverse().toString('hex'), 'crc64 is the RDB trailer');
    assert.deepEqual(manifest.keyCounts, expectedCounts);
    assert.deepEqual(manifest.keyspaceAtSnapshot, expectedCounts);
    assert.equal(Object.keys(expectedCounts).length, 3, 'three databases were seeded');
    assert.ok(rdb.length > 9 * 1024 * 1024, 'the multi-MiB values are in the snapshot');
    assert.match(manifest.redisVersion, /^7\./);
    assert.equal(manifest.rdbVersion, 10);
    assert.deepEqual(first.locations, ['primary', 'offsite']);
  });

  it('copies it off-site, and the copy is the same bytes with its own manifest', async () => {
    const [primary, offsite] = stores(env);
    const a = await readObject(primary!, primary!.keys('main', first.backupId).object);
    const b = await readObject(offsite!, offsite!.keys('main', first.backupId).object);
    assert.equal(sha256(b), sha256(a));
    const m = await offsite!.readManifest('main', first.backupId);
    assert.equal(m?.sha256, sha256(a));
    for (const store of [primary!, offsite!]) assert.equal((await verifyStoredBackup(store, 'main', first.backupId)).valid, true);
  });

  it('reads the snapshot in both SYNC framings: $EOF:<mark> (diskless) and $<len> (disk-based)', async () => {
    const framings: Record<string, number | undefined> = {};
    for (const diskless of ['yes', 'no']) {
      await redis.client().config('SET', 'repl-diskless-sync', diskless);
      const sync = await openRdbSync({ url: redis.url, password: redis.password });
      const verifier = new RdbVerifier();
      let bytes = 0;
      for await (const chunk of sync.payload) {
        verifier.push(chunk);
        bytes += chunk.length;
      }
      sync.close();
      const summary = verifier.end();
      assert.equal(summary.checksum, 'ok');
      assert.deepEqual(summary.keyCounts && JSON.parse(JSON.stringify(summary.keyCounts)), expectedCounts);
      if (sync.declaredBytes !== undefined) assert.equal(bytes, sync.declaredBytes);
      framings[diskless] = sync.declaredBytes;
    }
    assert.equal(framings.yes, undefined, 'diskless sync uses the EOF mark');
    assert.equal(typeof framings.no, 'number', 'disk-based sync announces the length');
    // And the whole workflow with the disk-based framing:
    const r = await runBackup(client, env);
    assert.equal((await verifyStoredBackup(stores(env)[0]!, 'main', r.backupId)).valid, true);
    await redis.client().config('SET', 'repl-diskless-sync', 'yes');
  });

  it('the verifier rejects an object with one flipped byte, and a truncated one', async () => {
    const [primary] = stores(env);
    const manifest = (await primary!.readManifest('main', first.backupId))!;
    const rdb = await readObject(primary!, primary!.keys('main', first.backupId).object);
    const flipped = Buffer.from(rdb);
    flipped[Math.floor(rdb.length / 2)]! ^= 0x01;
    const truncated = rdb.subarray(0, rdb.length - 1000);
    const cases = [['flipped', flipped], ['truncated', truncated]] as const;
    for (const [what, body] of cases) {
      const id = `${first.backupId}-${what}`;
      await putBackup(primary!, id, body, manifest);
      const verdict = await verifyStoredBackup(primary!, 'main', id);
      assert.equal(verdict.valid, false, what);
      assert.ok(verdict.problems.some((p) => /sha256 .* differs/.test(p)), `${what}: ${verdict.problems.join('; ')}`);
      assert.ok(verdict.problems.some((p) => /^RDB check failed|CRC64/.test(p) || /size/.test(p)), `${what}: ${verdict.problems.join('; ')}`);
      await primary!.deleteBackup('main', id);
    }
  });

  it('the CLI: `titan backup` prints the id, `backups list` shows it valid in both locations, `backups verify` passes', async () => {
    const cliEnv = { TITAN_TEST_REDIS_PASSWORD: redis.password };
    const backup = await titan(['--config', env.file, 'backup', '--class', 'hourly'], cliEnv);
    assert.equal(backup.code, 0, backup.stderr);
    const id = backup.stdout.split(/\s+/)[0]!;
    assert.match(id, /^main-\d{8}T\d{6}Z-[0-9a-f]{8}$/);
    assert.match(backup.stderr, /backup workflow .* started/);
    const list = JSON.parse((await titan(['--config', env.file, '--json', 'backups', 'list'], cliEnv)).stdout);
    const row = list.find((r: { id: string }) => r.id === id);
    assert.deepEqual({ valid: row.valid, locations: row.locations, retentionClass: row.retentionClass }, { valid: true, locations: ['primary', 'offsite'], retentionClass: 'hourly' });
    const verify = await titan(['--config', env.file, 'backups', 'verify', id], cliEnv);
    assert.equal(verify.code, 0, verify.stderr);
    assert.match(verify.stdout, /^primary: valid\noffsite: valid$/m);
  });

  it('retention removes exactly the expired backups and keeps the newest valid one', async () => {
    const renv = writeTestEnvironment({ redisUrl: redis.url, redisPasswordEnv: 'TITAN_TEST_REDIS_PASSWORD', offsite: false, retention: { orphanGraceHours: 0.0005 } });
    const [store] = stores(renv);
    const [source] = stores(env);
    const manifest = (await source!.readManifest('main', first.backupId))!;
    const body = await readObject(source!, source!.keys('main', first.backupId).object);
    const ago = (h: number) => new Date(Date.now() - h * 3_600_000);
    const fabricated = {
      hourlyOld: [ago(49), 'hourly'], hourlyRecent: [ago(47), 'hourly'],
      dailyOld: [ago(36 * 24), 'daily'], dailyRecent: [ago(34 * 24), 'daily'],
    } as const;
    const ids: Record<string, string> = {};
    for (const [label, [at, cls]] of Object.entries(fabricated)) {
      ids[label] = newBackupId('main', at, label.toLowerCase().slice(0, 8).padEnd(8, '0'));
      await putBackup(store!, ids[label]!, body, { ...manifest, createdAt: at.toISOString(), retentionClass: cls });
    }
    ids.orphan = newBackupId('main', ago(0), 'orphan00');
    await putBackup(store!, ids.orphan, body.subarray(0, 1000));
    await new Promise((r) => setTimeout(r, 2500)); // past the orphan grace period

    const worker2 = await startWorker(renv);
    try {
      const r = await runBackup(client, renv);
      const deleted = r.retention[0]!.deleted.map((d) => d.id).sort();
      assert.deepEqual(deleted, [ids.dailyOld, ids.hourlyOld, ids.orphan].sort());
      const left = (await store!.list('main')).map((e) => e.id).sort();
      assert.deepEqual(left, [ids.dailyRecent, ids.hourlyRecent, r.backupId].sort());

      // Everything expired: the newest valid backup still stays.
      for (const id of left) if (id !== ids.dailyRecent) await store!.deleteBackup('main', id);
      const expired = newBackupId('main', ago(60 * 24), 'expired0');
      await putBackup(store!, expired, body, { ...manifest, createdAt: ago(60 * 24).toISOString(), retentionClass: 'daily' });
      await putBackup(store!, ids.dailyRecent!, body, { ...manifest, createdAt: ago(40 * 24).toISOString(), retentionClass: 'daily' });
      const activities = createRedisBackupActivities(buildDeps(renv.loaded));
      const report: RetentionReport = await new MockActivityEnvironment().run(activities.applyRetention, { redis: 'main', location: 'primary' as const });
      assert.deepEqual(report.deleted.map((d) => d.id), [expired]);
      assert.deepEqual((await store!.list('main')).map((e) => e.id), [ids.dailyRecent]);
    } finally {
      await worker2.stop();
    }
  });
});
