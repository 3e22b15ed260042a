// Which backup a restore uses: corrupt candidates are refused before Redis is touched and the
// next valid one is used; --before and --backup choose; a bad or unreachable primary copy falls
// back to the off-site one.
import assert from 'node:assert/strict';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { Client } from '@temporalio/client';
import { Crc64 } from '../../src/lib/crc64';
import type { BackupManifest } from '../../src/lib/manifest';
import { ErrorType } from '../../src/lib/errors';
import { deriveBackup, failureOf, readObject, runBackup, runRestore, sha256, stores } from '../helpers/backups';
import { datasetDigest } from '../helpers/dataset';
import type { ManagedRedis } from '../helpers/managed-redis';
import { stackCtl } from '../helpers/stack';
import type { TestEnv } from '../helpers/titan-env';
import { type RestoreFixture, restoreFixture, stopRestoreFixture } from '../helpers/restore-fixture';

/** The same RDB under a newer version number, with a correct checksum: only the version is wrong. */
function asRdbVersion(body: Buffer, version: number): Buffer {
  const b = Buffer.from(body);
  b.write(String(version).padStart(4, '0'), 5, 'latin1');
  b.writeBigUInt64LE(new Crc64().update(b.subarray(0, b.length - 8)).value(), b.length - 8);
  return b;
}

const consistent = (body: Buffer, m: BackupManifest) => ({ body, manifest: { ...m, bytes: body.length, sha256: sha256(body) } });

// Each corrupt variant of a good backup, and what the restore must say about it.
const MATRIX: [string, (body: Buffer, m: BackupManifest) => { body: Buffer; manifest: BackupManifest | null }, RegExp][] = [
  ['truncated', (b, m) => consistent(b.subarray(0, b.length - 100), m), /RDB stream ended at byte \d+/],
  ['one flipped byte', (b, m) => { const c = Buffer.from(b); c[c.length >> 1]! ^= 0x01; return consistent(c, m); }, /CRC64|checksum|corrupt RDB/],
  ['zero bytes', (_b, m) => consistent(Buffer.alloc(0), m), /RDB stream is empty/],
  ['wrong magic', (b, m) => { const c = Buffer.from(b); c.write('RXDIS', 0, 'latin1'); return consistent(c, m); }, /not an RDB stream/],
  ['an RDB version newer than the server supports', (b, m) => { const c = consistent(asRdbVersion(b, 11), m); return { body: c.body, manifest: { ...c.manifest, rdbVersion: 11 } }; }, /RDB version 11 is newer than the target Redis reads \(10\)/],
  ['sha256 mismatch', (b, m) => ({ body: b, manifest: { ...m, sha256: 'f'.repeat(64) } }), /sha256 [0-9a-f]{64}, the manifest says f{64}/],
  ['manifest missing', (b) => ({ body: b, manifest: null }), /no manifest/],
];

describe('redisRestore: choosing the backup', function () {
  let fixture: RestoreFixture | undefined;
  let client: Client;
  let prod: ManagedRedis;
  let env: TestEnv;
  let good: BackupManifest;
  let goodData: RestoreFixture['goodData'];
  const corrupt = new Map<string, string>(); // case → backup id

  before(async () => {
    fixture = await restoreFixture('CHOICE', (p) => {
      for (let i = 0; i < 500; i++) p.set(`k:${i}`, `v${i}`);
    });
    ({ client, prod, env, good, goodData } = fixture);
    const [primary] = stores(env);
    for (const [i, [name, change]] of MATRIX.entries()) corrupt.set(name, await deriveBackup(primary!, good, i + 1, change));
  });
  after(() => stopRestoreFixture(fixture));

  it('each corrupt backup chosen with --backup is refused with its reason, and Redis is never touched', async () => {
    await prod.client().set('current', 'state');
    const before = { data: await datasetDigest(prod.client), runId: await prod.runId() };
    for (const [name, , reason] of MATRIX) {
      const f = await failureOf(runRestore(client, env, { redis: 'main', backupId: corrupt.get(name)! }));
      assert.equal(f.type, ErrorType.NoValidBackup, name);
      assert.match(f.message, reason, name);
      assert.match(f.message, /Redis main was not touched/, name);
    }
    assert.deepEqual({ data: await datasetDigest(prod.client), runId: await prod.runId() }, before, 'same process, same data');
  });

  it('the latest backups all corrupt → each is reported and the previous valid backup is restored', async () => {
    await prod.client().flushall();
    const r = await runRestore(client, env, { redis: 'main' });
    assert.equal(r.backup.backupId, good.id);
    assert.deepEqual(await datasetDigest(prod.client), goodData);
    for (const [name, , reason] of MATRIX) {
      const rejection = r.rejected.find((x) => x.id === corrupt.get(name));
      assert.ok(rejection, `${name} reported`);
      assert.equal(rejection.location, 'primary');
      assert.match(rejection.problem, reason, name);
    }
  });

  it('--before restores the latest valid backup taken before that time; --backup restores that one', async () => {
    await prod.client().set('k:0', 'changed after the first backup');
    const second = await runBackup(client, env);
    const secondData = await datasetDigest(prod.client);
    await prod.client().flushall();

    const [primary] = stores(env);
    const secondTakenAt = (await primary!.readManifest('main', second.backupId))!.createdAt;
    const r = await runRestore(client, env, { redis: 'main', before: secondTakenAt });
    assert.equal(r.backup.backupId, good.id);
    assert.deepEqual(await datasetDigest(prod.client), goodData);

    const chosen = await runRestore(client, env, { redis: 'main', backupId: second.backupId });
    assert.equal(chosen.backup.backupId, second.backupId);
    assert.deepEqual(await datasetDigest(prod.client), secondData);

    const f = await failureOf(runRestore(client, env, { redis: 'main', before: 'last tuesday' }));
    assert.equal(f.type, ErrorType.RestoreRequestInvalid);
  });

  it('the primary copy bad → the off-site copy of the same backup is used', async () => {
    const latest = await runBackup(client, env);
    const expected = await datasetDigest(prod.client);
    const [primary] = stores(env);
    const key = primary!.keys('main', latest.backupId).object;
    const body = await readObject(primary!, key);
    body[body.length >> 1]! ^= 0x40;
    await primary!.client.send(new PutObjectCommand({ Bucket: primary!.bucket, Key: key, Body: body }));
    await prod.client().flushall();

    const r = await runRestore(client, env, { redis: 'main' });
    assert.equal(r.backup.backupId, latest.backupId);
    assert.equal(r.backup.location, 'offsite');
    assert.match(r.rejected.find((x) => x.id === latest.backupId && x.location === 'primary')?.problem ?? '', /sha256|CRC64|checksum|corrupt/);
    assert.deepEqual(await datasetDigest(prod.client), expected);
  });

  it('the primary location unreachable → restores from the off-site location', async () => {
    const latest = await runBackup(client, env);
    const expected = await datasetDigest(prod.client);
    await prod.client().flushall();
    stackCtl('stop', 's3-primary');
    try {
      const r = await runRestore(client, env, { redis: 'main' });
      assert.equal(r.backup.backupId, latest.backupId);
      assert.equal(r.backup.location, 'offsite');
      assert.deepEqual(r.unreachable.map((u) => u.location), ['primary']);
      assert.deepEqual(await datasetDigest(prod.client), expected);
    } finally {
      stackCtl('start', 's3-primary');
    }
  });
});
