// The staging thread must agree with the same checks run in line, byte for byte, however the
// download is chunked; must write exactly the plaintext of an encrypted backup (nothing of a
// tampered segment); must re-check what an interrupted attempt left; and must stop as soon as the
// RDB is corrupt.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RdbError, RdbVerifier } from '../../src/lib/rdb';
import { newExpiryHistogram, recordExpiry } from '../../src/lib/restore-plan';
import { HEADER_BYTES, SEGMENT_BYTES, SegmentEncryptor, SegmentError, storedOffsetOfSegment } from '../../src/infra/segment-crypto';
import { SLOT_BYTES, type StagingSetup, StagingThread } from '../../src/infra/staging-thread';
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

const dir = mkdtempSync(path.join(os.tmpdir(), 'staging-thread-'));
let files = 0;

/** Feeds `stored` through a staging thread in the given chunks; the results and the staging file after. */
async function threaded(stored: Buffer, chunkBytes: (i: number) => number, opts: { decrypt?: StagingSetup['decrypt']; existing?: Buffer } = {}) {
  const file = path.join(dir, `staged-${files++}`);
  writeFileSync(file, opts.existing ?? Buffer.alloc(0));
  const fd = openSync(file, 'r+');
  const thread = new StagingThread({ fd, resume: opts.existing?.length ?? 0, decrypt: opts.decrypt, now: NOW });
  try {
    for (let at = 0, i = 0; at < stored.length; i++) {
      const n = chunkBytes(i);
      await thread.push(stored.subarray(at, at + n));
      at += n;
    }
    const result = await thread.end();
    return { result, file: readFileSync(file), written: thread.written };
  } finally {
    await thread.close();
    closeSync(fd);
  }
}

function encrypt(plain: Buffer, key: Buffer, backupId: string): Buffer {
  const e = new SegmentEncryptor(key, backupId);
  const out = e.push(plain);
  out.push(...e.end());
  return Buffer.concat(out);
}

describe('staging thread', () => {
  const rdb = dataset();
  const corrupt = () => {
    const bad = Buffer.from(rdb);
    bad[20] = 0x7f; // the first entry's type byte: not a type Redis knows
    return bad;
  };
  /** The error must be the in-line verifier's, code and message. */
  const sameAsInline = (bad: Buffer) => {
    let inlineError: RdbError | undefined;
    try {
      new RdbVerifier().push(bad);
    } catch (err) {
      inlineError = err as RdbError;
    }
    assert.ok(inlineError instanceof RdbError);
    return (err: Error) => {
      assert.ok(err instanceof RdbError, `an RdbError, not ${err.name}: ${err.message}`);
      assert.equal(err.code, inlineError!.code);
      assert.equal(err.message, inlineError!.message);
      return true;
    };
  };
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('gives the same SHA-256, RDB summary and expiry histogram as the checks in line, however the bytes are chunked', async () => {
    assert.ok(rdb.length > 3 * SLOT_BYTES, 'the dataset spans several slots');
    const want = inline(rdb);
    assert.ok(Object.keys(want.expiries.dbs[0]!.bySecond).length > 0 && want.expiries.dbs[0]!.before > 0, 'the dataset exercises the histogram');
    const next = prng(5);
    for (const chunking of [() => 65_536, () => 1 + (next() % 40), () => 3 * SLOT_BYTES + 17, () => 1 + (next() % 300_000)]) {
      const { result, file } = await threaded(rdb, chunking);
      assert.deepEqual(result, { ...want, written: 0 });
      assert.equal(file.length, 0, 'a plaintext backup is written by the caller, as it arrives');
    }
  });

  it('decrypts an encrypted backup: the same results, and exactly the plaintext written, however the ciphertext is chunked', async () => {
    const key = randomBytes(32);
    const stored = encrypt(rdb, key, 'b1');
    const want = { ...inline(rdb), written: rdb.length };
    const next = prng(7);
    for (const chunking of [() => 65_536, () => 1 + (next() % 300_000), () => stored.length]) {
      const { result, file, written } = await threaded(stored, chunking, { decrypt: { key, backupId: 'b1', storedBytes: stored.length } });
      assert.deepEqual(result, want);
      assert.ok(file.equals(rdb), 'the staging file holds the plaintext');
      assert.equal(written, rdb.length, 'the caller\'s count (what a flush makes durable) reaches the end');
    }
  });

  it('refuses a tampered segment and writes none of it', async () => {
    const key = randomBytes(32);
    const stored = encrypt(rdb, key, 'b1');
    stored[storedOffsetOfSegment(1) + 100] ^= 1; // a byte of the second segment
    const file = path.join(dir, `staged-${files}`); // the one threaded() is about to write
    await assert.rejects(threaded(stored, () => 65_536, { decrypt: { key, backupId: 'b1', storedBytes: stored.length } }), (err: Error) => {
      assert.ok(err instanceof SegmentError, `a SegmentError, not ${err.name}: ${err.message}`);
      assert.match(err.message, /segment 1 failed authentication/);
      return true;
    });
    assert.ok(readFileSync(file).equals(rdb.subarray(0, SEGMENT_BYTES)), 'only the first segment (whose tag passed) was written');
  });

  it('resuming: re-checks the bytes already on disk, then the rest (plaintext, and encrypted from a segment boundary)', async () => {
    const cut = 2 * SEGMENT_BYTES;
    const plain = await threaded(rdb.subarray(cut), () => 65_536, { existing: rdb.subarray(0, cut) });
    assert.deepEqual(plain.result, { ...inline(rdb), written: cut });

    const key = randomBytes(32);
    const stored = encrypt(rdb, key, 'b1');
    const prefix = stored.subarray(5, HEADER_BYTES).toString('hex'); // after the 5-byte magic
    const rest = stored.subarray(storedOffsetOfSegment(2));
    const resumed = await threaded(rest, () => 65_536, { existing: rdb.subarray(0, cut), decrypt: { key, backupId: 'b1', storedBytes: stored.length, resume: { prefix, segment: 2 } } });
    assert.deepEqual(resumed.result, { ...inline(rdb), written: rdb.length });
    assert.ok(resumed.file.equals(rdb), 'the plaintext appended after the cut');
  });

  it('refuses a corrupt RDB while it downloads, with the in-line verifier\'s error', async () => {
    await assert.rejects(threaded(corrupt(), () => 65_536), sameAsInline(corrupt()));
  });

  it('refuses a corrupt RDB inside an encrypted backup (the checking thread reads it back) with the same error', async () => {
    const key = randomBytes(32);
    const stored = encrypt(corrupt(), key, 'b1');
    await assert.rejects(threaded(stored, () => 65_536, { decrypt: { key, backupId: 'b1', storedBytes: stored.length } }), sameAsInline(corrupt()));
    // Cut after the first segment: the checks see a truncated RDB at the end, after every tag passed.
    const cut = encrypt(rdb.subarray(0, SEGMENT_BYTES + 10), key, 'b2');
    const { result: got } = await threaded(cut, () => 65_536, { decrypt: { key, backupId: 'b2', storedBytes: cut.length } });
    assert.ok('error' in got.rdb, 'the summary is an error');
    assert.equal(got.written, SEGMENT_BYTES + 10);
    assert.equal(got.sha256, createHash('sha256').update(rdb.subarray(0, SEGMENT_BYTES + 10)).digest('hex'));
  });

  it('reports a truncated RDB at the end, as a problem rather than a thrown error', async () => {
    const { result: got } = await threaded(rdb.subarray(0, rdb.length - 5), () => 65_536);
    assert.ok('error' in got.rdb, 'the summary is an error');
    assert.match(got.rdb.error, /truncated|checksum|EOF/i);
    assert.notEqual(got.sha256, inline(rdb).sha256);
  });
});
