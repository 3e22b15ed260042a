// The staging checks on their thread must agree with the same checks run in line, byte for byte,
// however the download is chunked, and must stop the download as soon as the RDB is corrupt.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { RdbError, RdbVerifier } from '../../src/lib/rdb';
import { newExpiryHistogram, recordExpiry } from '../../src/lib/restore-plan';
import { SLOT_BYTES, ThreadedChecks } from '../../src/infra/staging-checks';
import { prng } from '../helpers/prng';
import { rdbEntry, rdbFile, rdbStr } from '../helpers/rdb-writer';

const NOW = Date.parse('2026-12-05T00:00:00Z');

/** An RDB of about 3.5 slots: large strings (so values span slots) and keys with expiries. */
function dataset(): Buffer {
  const next = prng(11);
  const entries: Buffer[] = [];
  for (let i = 0; i < 40; i++) {
    const value = Buffer.alloc(90_000 + (next() % 10_000), i);
    const entry = rdbEntry(0, `key:${i}`, rdbStr(value));
    if (i % 3 !== 0) {
      entries.push(entry);
      continue;
    }
    const expire = Buffer.alloc(9);
    expire[0] = 0xfc; // expiry in ms, then the key
    expire.writeBigUInt64LE(BigInt(NOW + (i + 1) * 1000 + (i % 2 ? -10_000_000 : 0)), 1);
    entries.push(Buffer.concat([expire, entry]));
  }
  return rdbFile(11, entries);
}

function inline(rdb: Buffer) {
  const expiries = newExpiryHistogram(NOW);
  const v = new RdbVerifier({ onExpire: (db, at) => recordExpiry(expiries, db, at) });
  v.push(rdb);
  return { sha256: createHash('sha256').update(rdb).digest('hex'), rdb: v.end(), expiries };
}

async function threaded(rdb: Buffer, chunkBytes: (i: number) => number) {
  const checks = new ThreadedChecks({ now: NOW });
  try {
    for (let at = 0, i = 0; at < rdb.length; i++) {
      const n = chunkBytes(i);
      await checks.push(rdb.subarray(at, at + n));
      at += n;
    }
    return await checks.end();
  } finally {
    await checks.close();
  }
}

describe('staging checks on a thread', () => {
  const rdb = dataset();

  it('give the same SHA-256, RDB summary and expiry histogram as the checks in line, however the bytes are chunked', async () => {
    assert.ok(rdb.length > 3 * SLOT_BYTES, 'the dataset spans several slots');
    const want = inline(rdb);
    assert.ok(Object.keys(want.expiries.dbs[0]!.bySecond).length > 0 && want.expiries.dbs[0]!.before > 0, 'the dataset exercises the histogram');
    const next = prng(5);
    for (const chunking of [() => 65_536, () => 1 + (next() % 40), () => 3 * SLOT_BYTES + 17, () => 1 + (next() % 300_000)]) {
      assert.deepEqual(await threaded(rdb, chunking), want);
    }
  });

  it('refuse a corrupt RDB while it downloads, with the in-line verifier\'s error', async () => {
    const bad = Buffer.from(rdb);
    bad[20] = 0x7f; // the first entry's type byte: not a type Redis knows
    let inlineError: RdbError | undefined;
    try {
      new RdbVerifier().push(bad);
    } catch (err) {
      inlineError = err as RdbError;
    }
    assert.ok(inlineError instanceof RdbError);
    await assert.rejects(threaded(bad, () => 65_536), (err: Error) => {
      assert.ok(err instanceof RdbError, `an RdbError, not ${err.name}`);
      assert.equal(err.code, inlineError!.code);
      assert.equal(err.message, inlineError!.message);
      return true;
    });
  });

  it('report a truncated RDB at the end, as a problem rather than a thrown error', async () => {
    const got = await threaded(rdb.subarray(0, rdb.length - 5), () => 65_536);
    assert.ok('error' in got.rdb, 'the summary is an error');
    assert.match(got.rdb.error, /truncated|checksum|EOF/i);
    assert.notEqual(got.sha256, inline(rdb).sha256);
  });
});
