// "Valid" means what redis-server means: a snapshot whose compact encoding Redis's integrity
// check refuses is rejected before Redis is touched; a snapshot Redis still refuses to load
// (module data it has no module for) makes the restore put the previous data back and fall back
// to the next older valid backup; empty collections, which Redis skips, do not fail the count check.
import assert from 'node:assert/strict';
import type { Client } from '@temporalio/client';
import { Crc64 } from '../../src/lib/crc64';
import type { BackupManifest } from '../../src/lib/manifest';
import { ErrorType } from '../../src/lib/errors';
import { deriveBackup, failureOf, runRestore, sha256, stores } from '../helpers/backups';
import { datasetDigest } from '../helpers/dataset';
import type { ManagedRedis } from '../helpers/managed-redis';
import { listpack, rdbEntry, rdbLen, rdbStr, ziplist } from '../helpers/rdb-writer';
import type { TestEnv } from '../helpers/titan-env';
import { type RestoreFixture, restoreFixture, stopRestoreFixture } from '../helpers/restore-fixture';

/** The backup with `entries` added before its EOF opcode, re-sealed: checksum, size and sha256 all right. */
const withEntries = (...entries: Buffer[]) => (body: Buffer, m: BackupManifest) => {
  const b = Buffer.concat([body.subarray(0, body.length - 9), ...entries, Buffer.from([0xff])]);
  const crc = new Crc64().update(b);
  const sum = Buffer.alloc(8);
  sum.writeBigUInt64LE(crc.value());
  const sealed = Buffer.concat([b, sum]);
  return { body: sealed, manifest: { ...m, bytes: sealed.length, sha256: sha256(sealed), crc64: crc.hex() } };
};

/** A hash ziplist whose second entry's back-link is wrong: ziplistValidateIntegrity refuses it. */
function badZiplist(): Buffer {
  const zl = ziplist(['field', 'value']);
  zl[10 + 7] = 3; // prevlen of entry 2 (entry 1 is 7 bytes)
  return rdbEntry(13, 'bad-hash', rdbStr(zl));
}

/** A module value (type 7, self-describing): Titan can walk it, Redis without the module refuses it. */
const moduleValue = () => rdbEntry(7, 'module-key', Buffer.concat([rdbLen(12345), rdbLen(2), rdbLen(7), rdbLen(0)]));

describe('redisRestore: a snapshot redis-server refuses', function () {
  let fixture: RestoreFixture | undefined;
  let client: Client;
  let prod: ManagedRedis;
  let env: TestEnv;
  let good: BackupManifest;
  let goodData: RestoreFixture['goodData'];

  before(async () => {
    fixture = await restoreFixture('REFUSES', (p) => {
      for (let i = 0; i < 300; i++) p.set(`k:${i}`, `v${i}`);
      p.hset('h', 'f', 'v');
    });
    ({ client, prod, env, good, goodData } = fixture);
  });
  after(() => stopRestoreFixture(fixture));

  it('newest backup refused by Redis, the one before it by its ziplist check → the older good backup is restored, with both reasons', async () => {
    const [primary] = stores(env);
    const ziplistId = await deriveBackup(primary!, good, 1, withEntries(badZiplist()));
    const moduleId = await deriveBackup(primary!, good, 2, withEntries(moduleValue()));
    await prod.client().flushall();
    await prod.client().set('before-restore', 'x');

    const r = await runRestore(client, env, { redis: 'main' });
    assert.equal(r.backup.backupId, good.id);
    assert.deepEqual(await datasetDigest(prod.client), goodData);
    assert.deepEqual(r.verification.problems, []);
    const why = (id: string) => r.rejected.filter((x) => x.id === id).map((x) => x.problem).join(' | ');
    // Redis loaded nothing of the module backup: it exited, the previous data went back, and the next was tried.
    assert.match(why(moduleId), /Redis main refused to load it: Redis main exited while loading its data/);
    assert.equal(r.rejected.filter((x) => x.id === moduleId).length, 1, 'a backup Redis refused is not tried again from another location');
    // The ziplist Redis's integrity check refuses is caught by Titan before Redis is stopped for it.
    assert.match(why(ziplistId), /Hash ziplist integrity check failed: entry 1 says the previous entry has 3 bytes/);
    assert.equal(r.steps.filter((s) => s.step === 'roll back').length, 1, 'one rollback: after the module backup only');
  });

  it('--backup naming a snapshot Redis refuses → NoValidBackup with the reason, and Redis serves its previous data', async () => {
    const [primary] = stores(env);
    const moduleId = await deriveBackup(primary!, good, 4, withEntries(moduleValue()));
    await prod.client().flushall();
    await prod.client().set('previous', 'data');
    await prod.client().save();
    const f = await failureOf(runRestore(client, env, { redis: 'main', backupId: moduleId }));
    assert.equal(f.type, ErrorType.NoValidBackup);
    assert.match(f.message, /Redis main is running on its previous data/);
    assert.match(f.message, new RegExp(`${moduleId} \\(primary\\): Redis main refused to load it`));
    assert.equal(await prod.client().get('previous'), 'data');
  });

  it('empty collections in a snapshot are skipped by Redis and by the count check: the restore verifies', async () => {
    const [primary] = stores(env);
    const emptyId = await deriveBackup(primary!, good, 3, withEntries(
      rdbEntry(2, 'empty-set', rdbLen(0)),
      rdbEntry(16, 'empty-hash', rdbStr(listpack([]))),
      rdbEntry(18, 'empty-list', rdbLen(0)),
    ));
    await prod.client().flushall();

    const r = await runRestore(client, env, { redis: 'main', backupId: emptyId });
    assert.equal(r.backup.backupId, emptyId);
    assert.deepEqual(r.verification.problems, []);
    assert.equal(r.backup.keyCounts?.['0']?.keys, 301, 'the staged count is what Redis keeps');
    assert.deepEqual(await datasetDigest(prod.client), goodData);
  });
});
