// S3 Object Lock on the off-site location (the stack's bucket has Object Lock enabled): what
// Titan's own keys can and cannot do to a locked backup, and retention by version. Locks here
// are COMPLIANCE like titan.yaml's, but seconds long (a test-only hourly retention), so the run
// leaves nothing locked for long.
import assert from 'node:assert/strict';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3ServiceException } from '@aws-sdk/client-s3';
import type { Client } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createRedisBackupActivities, type RetentionReport } from '../../src/activities/redis-backup';
import { buildDeps } from '../../src/deps';
import { BackupStore } from '../../src/infra/backup-store';
import { verifyStoredBackup } from '../../src/infra/backup-verify';
import { retainUntil } from '../../src/lib/retention';
import { runBackup, sha256, stores } from '../helpers/backups';
import { titan } from '../helpers/cli';
import { type RedisServer, startRedisServer } from '../helpers/redis-server';
import { temporalClient } from '../helpers/stack';
import { type TestEnv, writeTestEnvironment } from '../helpers/titan-env';
import { sleep } from '../helpers/wait';
import { startWorker } from '../helpers/worker';

/** 36 s: long enough to try everything against the lock, short enough to wait out. */
const HOURLY_HOURS = 0.01;

describe('backup: S3 Object Lock on the off-site location', function () {
  let redis: RedisServer;
  let env: TestEnv;
  let client: Client;
  let worker: { stop(): Promise<void> };

  before(async () => {
    redis = await startRedisServer();
    process.env.TITAN_TEST_REDIS_PASSWORD = redis.password;
    await redis.client().set('greeting', 'hello');
    env = writeTestEnvironment({ redisUrl: redis.url, redisPasswordEnv: 'TITAN_TEST_REDIS_PASSWORD', offsiteLock: 'COMPLIANCE', retention: { hourlyHours: HOURLY_HOURS } });
    worker = await startWorker(env);
    client = await temporalClient();
  });
  after(async () => {
    await worker?.stop();
    await client?.connection.close();
    await redis?.stop();
  });

  it('a locked backup: its versions cannot be deleted or replaced with Titan\'s keys; retention keeps it, saying until when, then deletes every version', async () => {
    const [primary, offsite] = stores(env);
    const first = await runBackup(client, env, 'hourly');
    const manifest = (await offsite!.readManifest('main', first.backupId))!;
    const keys = offsite!.keys('main', first.backupId);
    const until = retainUntil(new Date(manifest.createdAt), 'hourly', env.loaded.env.backups.retention);

    // Snapshot and manifest carry the lock: COMPLIANCE, until creation + the hourly retention (S3 keeps whole seconds).
    for (const key of [keys.object, keys.manifest]) {
      const lock = (await offsite!.headObject(key))!.lock!;
      assert.equal(lock.mode, 'COMPLIANCE', key);
      assert.ok(Math.abs(lock.until.getTime() - until.getTime()) < 1500, `${key}: locked until ${lock.until.toISOString()}, expected ${until.toISOString()}`);
    }
    // The primary location is not locked: nothing there carries a lock.
    assert.equal((await primary!.headObject(primary!.keys('main', first.backupId).object))!.lock, undefined);

    // Deleting a locked version with Titan's own keys is refused.
    const versions = await offsite!.versions(keys.dir);
    assert.equal(versions.length, 2, 'one version of the snapshot, one of the manifest');
    for (const v of versions) {
      const err = await offsite!.client.send(new DeleteObjectCommand({ Bucket: offsite!.bucket, Key: v.key, VersionId: v.versionId })).then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof S3ServiceException && err.name === 'AccessDenied', `delete of ${v.key} version ${v.versionId}: ${String(err)}`);
    }

    // Overwriting: S3 (and SeaweedFS) take a PUT to the key as a new version; the locked version
    // stays as it was, and list/verify report the backup's current snapshot as not locked.
    const snapshotVersion = versions.find((v) => v.key === keys.object)!;
    const forged = await offsite!.client.send(new PutObjectCommand({ Bucket: offsite!.bucket, Key: keys.object, Body: 'ransomware was here' }));
    const kept = await offsite!.client.send(new GetObjectCommand({ Bucket: offsite!.bucket, Key: keys.object, VersionId: snapshotVersion.versionId }));
    assert.equal(sha256(Buffer.from(await kept.Body!.transformToByteArray())), manifest.sha256, 'the locked version still holds the snapshot');
    const verdict = await verifyStoredBackup(offsite!, 'main', first.backupId);
    assert.equal(verdict.lockProblem, 'snapshot not locked (the location requires COMPLIANCE)');
    const cliEnv = { TITAN_TEST_REDIS_PASSWORD: redis.password };
    const listed = JSON.parse((await titan(['--config', env.file, '--json', 'backups', 'list'], cliEnv)).stdout).find((r: { id: string }) => r.id === first.backupId);
    assert.ok(listed.problems.includes('offsite: snapshot not locked (the location requires COMPLIANCE)'), JSON.stringify(listed));
    // The forged version has no lock: it can go, and the backup is whole and locked again.
    await offsite!.client.send(new DeleteObjectCommand({ Bucket: offsite!.bucket, Key: keys.object, VersionId: forged.VersionId }));
    assert.equal((await verifyStoredBackup(offsite!, 'main', first.backupId)).valid, true);

    // list and verify show the lock.
    const row = JSON.parse((await titan(['--config', env.file, '--json', 'backups', 'list'], cliEnv)).stdout).find((r: { id: string }) => r.id === first.backupId);
    assert.deepEqual({ locks: row.locks, problems: row.problems }, { locks: [`offsite: COMPLIANCE until ${until.toISOString().replace(/\.\d+Z$/, '.000Z')}`], problems: [] });
    const verify = await titan(['--config', env.file, 'backups', 'verify', first.backupId], cliEnv);
    assert.equal(verify.code, 0, verify.stderr);
    assert.match(verify.stdout, /^primary: valid\noffsite: valid; COMPLIANCE until \d{4}-\d\d-\d\dT[\d:.]+Z$/m);

    // A newer backup, so the first is not the newest valid one (never deleted).
    const second = await runBackup(client, env, 'hourly');
    // Retention with a policy already past the first backup's age (as if retention had been
    // shortened since it was written): the lock still holds, and the report says until when.
    const activities = createRedisBackupActivities({ ...buildDeps(env.loaded), retention: { ...env.loaded.env.backups.retention, hourlyHours: 0.0001 } });
    const early: RetentionReport = await new MockActivityEnvironment().run(activities.applyRetention, { redis: 'main', location: 'offsite' as const });
    assert.deepEqual(early.deleted, []);
    assert.deepEqual(early.locked.map((l) => l.id), [first.backupId]);
    assert.match(early.locked[0]!.reason, /^hourly backup .* old > 0\.0001 h, but locked until \d{4}-.*Z$/);
    assert.equal((await offsite!.versions(keys.dir)).length, 2, 'nothing of the locked backup deleted');

    // Past the retain-until date: retention deletes every version, leaving no delete marker behind.
    await sleep(Math.max(0, until.getTime() + 1500 - Date.now()));
    const late: RetentionReport = await new MockActivityEnvironment().run(activities.applyRetention, { redis: 'main', location: 'offsite' as const });
    assert.deepEqual({ deleted: late.deleted.map((d) => d.id), locked: late.locked }, { deleted: [first.backupId], locked: [] });
    assert.deepEqual(await offsite!.versions(keys.dir), []);
    assert.deepEqual((await offsite!.list('main')).map((e) => e.id), [second.backupId]);

    // Leave nothing locked behind: once the second backup's lock ends, it goes too.
    const secondUntil = (await offsite!.headObject(offsite!.keys('main', second.backupId).object))!.lock!.until;
    await sleep(Math.max(0, secondUntil.getTime() + 1500 - Date.now()));
    assert.deepEqual(await offsite!.deleteBackup('main', second.backupId), {});
    assert.deepEqual(await offsite!.versions(env.prefix), []);
  });

  it('the stack\'s off-site bucket has Object Lock; a location locked on a bucket without it is refused before anything is written', async () => {
    const [primary, offsite] = stores(env);
    await offsite!.checkBucket();
    const l = primary!.location;
    const lockedPrimary = new BackupStore('primary', { ...l, objectLock: { mode: 'COMPLIANCE' } }, {
      accessKeyId: env.loaded.secret(l.accessKeyIdEnv, 'accessKeyIdEnv'),
      secretAccessKey: env.loaded.secret(l.secretAccessKeyEnv, 'secretAccessKeyEnv'),
    });
    await assert.rejects(lockedPrimary.checkBucket(), (err: Error & { type?: string }) => {
      assert.equal(err.type, 'ConfigInvalid');
      assert.match(err.message, /^primary backup location http:\/\/127\.0\.0\.1:8333\/titan-backups: objectLock is configured but the bucket does not have Object Lock enabled/);
      return true;
    });
  });
});
