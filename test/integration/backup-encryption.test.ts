// Client-side encryption on the real stack: what S3 holds is ciphertext in both locations; it
// restores and verifies; tampered ciphertext is refused before Redis is touched and the restore
// falls back to the next valid copy; keys rotate by id, and a backup whose key is gone is
// reported unreadable and skipped with that reason.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { verifyStoredBackup } from '../../src/infra/backup-verify';
import { SegmentDecryptor, storedOffsetOfSegment } from '../../src/infra/segment-crypto';
import { ErrorType } from '../../src/lib/errors';
import type { BackupManifest } from '../../src/lib/manifest';
import { failureOf, putBackup, readObject, runBackup, runRestore, stores } from '../helpers/backups';
import { titan } from '../helpers/cli';
import { datasetDigest } from '../helpers/dataset';
import type { ManagedRedis } from '../helpers/managed-redis';
import { type RestoreFixture, restoreFixture, stopRestoreFixture } from '../helpers/restore-fixture';
import { setEncryption, type TestEnv, type TestEnvOptions } from '../helpers/titan-env';
import { startWorker } from '../helpers/worker';

const MARK_KEY = `ledger:${randomBytes(6).toString('hex')}`;
const MARK_VALUE = `confidential-${randomBytes(24).toString('hex')}`;
const newKey = () => randomBytes(32).toString('base64');

/** Some data spanning many 1 MiB segments, with a key and value we can look for in the stored bytes. */
function populate(p: import('ioredis').ChainableCommander) {
  p.set(MARK_KEY, MARK_VALUE);
  for (let i = 0; i < 500; i++) p.set(`k:${i}`, `v${i}`);
  for (let i = 0; i < 3; i++) p.set(`blob:${i}`, randomBytes(2 * 1024 * 1024));
}

function decrypt(stored: Buffer, key: string, id: string): Buffer {
  const d = new SegmentDecryptor(Buffer.from(key, 'base64'), id, stored.length);
  const plain = d.push(stored);
  d.end();
  return Buffer.concat(plain);
}

const segment = (b: Buffer, i: number) => b.subarray(storedOffsetOfSegment(i), storedOffsetOfSegment(i + 1));

describe('encrypted backups', function () {
  describe('ciphertext at rest, restore, tampering', function () {
    const KEY = newKey();
    let fixture: RestoreFixture | undefined;
    let client: Client;
    let prod: ManagedRedis;
    let env: TestEnv;
    let good: BackupManifest;

    before(async () => {
      process.env.TITAN_TEST_ENC_KEY_E1 = KEY;
      fixture = await restoreFixture('ENC', populate, { encryption: { current: 'e1', keys: { e1: { keyEnv: 'TITAN_TEST_ENC_KEY_E1' } } } });
      ({ client, prod, env, good } = fixture);
    });
    after(() => stopRestoreFixture(fixture));

    it('both locations hold the same ciphertext, with no plaintext key or value; the manifest names the key; it verifies and restores', async () => {
      assert.deepEqual({ keyId: good.encryption?.keyId, format: good.encryption?.format }, { keyId: 'e1', format: 'stream-aes-256-gcm/1' });
      const [primary, offsite] = stores(env);
      const a = await readObject(primary!, primary!.keys('main', good.id).object);
      const b = await readObject(offsite!, offsite!.keys('main', good.id).object);
      assert.ok(a.equals(b), 'the off-site copy is the ciphertext as is');
      assert.equal(a.length, good.encryption!.storedBytes);
      for (const s of [MARK_KEY, MARK_VALUE, 'redis-ver', 'REDIS00']) assert.equal(a.indexOf(s), -1, `${s} visible in the stored object`);
      // The same bytes decrypted are the RDB with the data: the search above could have found them.
      const plain = decrypt(a, KEY, good.id);
      assert.equal(plain.length, good.bytes);
      assert.ok(plain.indexOf(MARK_KEY) >= 0 && plain.indexOf(MARK_VALUE) >= 0 && plain.subarray(0, 5).toString() === 'REDIS');
      for (const s of [primary!, offsite!]) {
        const v = await verifyStoredBackup(s, 'main', good.id);
        assert.deepEqual({ valid: v.valid, problems: v.problems, keyId: v.keyId }, { valid: true, problems: [], keyId: 'e1' }, s.name);
      }
      const want = await datasetDigest(prod.client);
      await prod.client().flushall();
      const r = await runRestore(client, env, { redis: 'main' });
      assert.equal(r.backup.backupId, good.id);
      assert.deepEqual(await datasetDigest(prod.client), want);
      assert.equal(await prod.client().get(MARK_KEY), MARK_VALUE);
    });

    it('a flipped byte, a truncated object, swapped segments and a segment of another backup are refused before Redis is touched; the restore falls back to the next valid copy', async () => {
      const [primary, offsite] = stores(env);
      const goodCipher = await readObject(primary!, primary!.keys('main', good.id).object);
      const tampers: [string, (b: Buffer) => Buffer][] = [
        ['flipped byte', (b) => { const c = Buffer.from(b); c[c.length >> 1]! ^= 0x01; return c; }],
        ['truncated', (b) => b.subarray(0, storedOffsetOfSegment(3))],
        ['two segments swapped', (b) => Buffer.concat([b.subarray(0, storedOffsetOfSegment(1)), segment(b, 2), segment(b, 1), b.subarray(storedOffsetOfSegment(3))])],
        ['a segment of another backup', (b) => Buffer.concat([b.subarray(0, storedOffsetOfSegment(1)), segment(goodCipher, 1), b.subarray(storedOffsetOfSegment(2))])],
      ];
      // One real backup per kind of damage, damaged in place (same id) in both locations, so only
      // the ciphertext itself is wrong; the manifest is made to agree with the new size.
      const damaged = new Map<string, string>();
      const tamper = async (store: typeof primary, id: string, change: (b: Buffer) => Buffer) => {
        const m = (await store!.readManifest('main', id))!;
        const body = change(await readObject(store!, store!.keys('main', id).object));
        await putBackup(store!, id, body, { ...m, encryption: { ...m.encryption!, storedBytes: body.length } });
      };
      for (const [name, change] of tampers) {
        const id = (await runBackup(client, env)).backupId;
        for (const s of [primary, offsite]) await tamper(s, id, change);
        damaged.set(name, id);
        const v = await verifyStoredBackup(primary!, 'main', id);
        assert.equal(v.valid, false, name);
        assert.match(v.problems.join('; '), /encrypted segment \d+ failed authentication/, name);
      }
      // The newest: damaged in the primary location only, so its off-site copy is the next valid one.
      const newest = (await runBackup(client, env)).backupId;
      await tamper(primary, newest, tampers[0]![1]);

      await prod.client().set('current', 'state');
      const before = { data: await datasetDigest(prod.client), runId: await prod.runId() };
      for (const [name, id] of damaged) {
        const f = await failureOf(runRestore(client, env, { redis: 'main', backupId: id }));
        assert.equal(f.type, ErrorType.NoValidBackup, name);
        assert.match(f.message, /encrypted segment \d+ failed authentication/, name);
        assert.match(f.message, /Redis main was not touched/, name);
      }
      assert.deepEqual({ data: await datasetDigest(prod.client), runId: await prod.runId() }, before, 'same process, same data');

      const r = await runRestore(client, env, { redis: 'main' });
      assert.deepEqual({ id: r.backup.backupId, location: r.backup.location }, { id: newest, location: 'offsite' });
      const rejected = r.rejected.find((x) => x.id === newest);
      assert.ok(rejected && rejected.location === 'primary', 'the damaged primary copy is reported');
      assert.match(rejected.problem, /encrypted segment \d+ failed authentication/);
      assert.equal(await prod.client().get(MARK_KEY), MARK_VALUE);
      assert.equal(await prod.client().get('current'), null, 'the snapshot replaced the data');
    });
  });

  describe('key rotation', function () {
    const A = newKey();
    const B = newKey();
    const keysA = { current: 'ka', keys: { ka: { keyEnv: 'TITAN_TEST_ROT_KEY_A' } } };
    const keysAB = { current: 'kb', keys: { ka: { keyEnv: 'TITAN_TEST_ROT_KEY_A' }, kb: { keyEnv: 'TITAN_TEST_ROT_KEY_B' } } };
    const keysB = { current: 'kb', keys: { kb: { keyEnv: 'TITAN_TEST_ROT_KEY_B' } } };
    let fixture: RestoreFixture | undefined;

    before(async () => {
      process.env.TITAN_TEST_ROT_KEY_A = A;
      process.env.TITAN_TEST_ROT_KEY_B = B;
      fixture = await restoreFixture('ROT', populate, { encryption: keysA });
    });
    after(() => stopRestoreFixture(fixture));

    /** The operator's edit: a new environment file, read by a restarted worker. */
    async function rotate(encryption: TestEnvOptions['encryption']) {
      await fixture!.worker.stop();
      setEncryption(fixture!.env, encryption);
      fixture!.worker = await startWorker(fixture!.env);
    }

    it('a backup under A, then B current and a backup under B: both restore; without A, the A backup is unreadable and skipped with that reason', async () => {
      const { client, prod, env, good: underA, goodData } = fixture!;
      assert.equal(underA.encryption?.keyId, 'ka');
      await rotate(keysAB);
      await prod.client().set('after-rotation', '1');
      const underB = (await stores(env)[0]!.readManifest('main', (await runBackup(client, env)).backupId))!;
      assert.equal(underB.encryption?.keyId, 'kb');
      const withB = await datasetDigest(prod.client);

      let r = await runRestore(client, env, { redis: 'main', backupId: underA.id });
      assert.equal(r.backup.backupId, underA.id);
      assert.deepEqual(await datasetDigest(prod.client), goodData);
      r = await runRestore(client, env, { redis: 'main', backupId: underB.id });
      assert.deepEqual(await datasetDigest(prod.client), withB);

      await rotate(keysB);
      const list = await titan(['--json', 'backups', 'list', '--redis', 'main'], { TITAN_CONFIG: env.file });
      assert.equal(list.code, 0, list.stderr);
      const rows = JSON.parse(list.stdout) as { id: string; valid: boolean; unreadable?: boolean; keyId?: string; problems: string[] }[];
      const a = rows.find((x) => x.id === underA.id)!;
      assert.deepEqual({ valid: a.valid, unreadable: a.unreadable, keyId: a.keyId }, { valid: false, unreadable: true, keyId: 'ka' });
      assert.deepEqual(a.problems, ['primary: key ka not configured', 'offsite: key ka not configured']);
      const b = rows.find((x) => x.id === underB.id)!;
      assert.deepEqual({ valid: b.valid, keyId: b.keyId }, { valid: true, keyId: 'kb' });
      const text = await titan(['backups', 'list', '--redis', 'main'], { TITAN_CONFIG: env.file });
      assert.match(text.stdout, new RegExp(`${underA.id}\\s+unreadable.*key ka not configured`));
      const verify = await titan(['backups', 'verify', '--redis', 'main', underA.id], { TITAN_CONFIG: env.file });
      assert.match(verify.stdout, /primary: UNREADABLE \(key ka\): key ka not configured/);

      await prod.client().set('current', 'state');
      const before = { data: await datasetDigest(prod.client), runId: await prod.runId() };
      const f = await failureOf(runRestore(client, env, { redis: 'main', backupId: underA.id }));
      assert.equal(f.type, ErrorType.NoValidBackup);
      assert.match(f.message, /key ka not configured/);
      assert.match(f.message, /Redis main was not touched/);
      assert.deepEqual({ data: await datasetDigest(prod.client), runId: await prod.runId() }, before);
      // Before the B backup, only the A backup qualifies: skipped with its reason, nothing restored.
      const g = await failureOf(runRestore(client, env, { redis: 'main', before: new Date(Date.parse(underB.createdAt) - 1).toISOString() }));
      assert.match(g.message, new RegExp(`${underA.id} \\(primary\\): key ka not configured`));
    });
  });
});
