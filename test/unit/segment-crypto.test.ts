// The encrypted segment format: round trips at every boundary, and each way of tampering with the
// stored bytes (flip, truncate, reorder, splice from another backup, wrong key or id) is refused.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Keyring } from '../../src/infra/backup-keys';
import { encryptedSize, HEADER_BYTES, SEGMENT_BYTES, SegmentDecryptor, SegmentEncryptor, SegmentError, storedOffsetOfSegment } from '../../src/infra/segment-crypto';

const key = randomBytes(32);
const STORED = SEGMENT_BYTES + 16;

/** Encrypts `plain` fed in chunks of `chunk` bytes. */
function seal(plain: Buffer, id = 'b1', k = key, chunk = 10_000): Buffer {
  const enc = new SegmentEncryptor(k, id);
  const out: Buffer[] = [];
  for (let i = 0; i < plain.length; i += chunk) out.push(...enc.push(plain.subarray(i, i + chunk)));
  out.push(...enc.end());
  return Buffer.concat(out);
}

/** Decrypts `stored` fed in chunks; `size`: the object's size as the decryptor is told it (the manifest's), by default its own. */
function open(stored: Buffer, id = 'b1', k = key, chunk = 7_777, size = stored.length): Buffer {
  const dec = new SegmentDecryptor(k, id, size);
  const out: Buffer[] = [];
  for (let i = 0; i < stored.length; i += chunk) out.push(...dec.push(stored.subarray(i, i + chunk)));
  dec.end();
  return Buffer.concat(out);
}

describe('encrypted segment format', function () {
  for (const size of [0, 1, SEGMENT_BYTES - 1, SEGMENT_BYTES, SEGMENT_BYTES + 1, 3 * SEGMENT_BYTES, 3 * SEGMENT_BYTES + 12345]) {
    it(`round trip of ${size} bytes; stored size as computed`, function () {
      const plain = randomBytes(size);
      const stored = seal(plain);
      assert.equal(stored.length, encryptedSize(size));
      assert.ok(open(stored).equals(plain));
      assert.ok(open(stored, 'b1', key, stored.length).equals(plain), 'fed whole');
      // fed in chunks larger than a segment, and whole
      assert.ok(open(seal(plain, 'b1', key, 2.5 * SEGMENT_BYTES)).equals(plain));
      assert.ok(open(seal(plain, 'b1', key, Math.max(1, size))).equals(plain));
    });
  }

  it('the same plaintext encrypts differently each time (random nonce prefix), and never contains the plaintext', function () {
    const plain = Buffer.from('user:1 secret-value '.repeat(5000));
    const a = seal(plain);
    const b = seal(plain);
    assert.ok(!a.equals(b));
    assert.equal(a.indexOf('secret-value'), -1);
  });

  describe('tampering is refused', function () {
    const plain = randomBytes(4 * SEGMENT_BYTES + 500);
    const stored = seal(plain);
    const cases: [string, () => Buffer][] = [
      ['a flipped byte', () => { const c = Buffer.from(stored); c[HEADER_BYTES + STORED + 100]! ^= 1; return c; }],
      ['a flipped tag byte', () => { const c = Buffer.from(stored); c[stored.length - 1]! ^= 1; return c; }],
      ['a flipped nonce prefix', () => { const c = Buffer.from(stored); c[6]! ^= 1; return c; }],
      ['truncated mid-segment', () => stored.subarray(0, stored.length - 100)],
      ['truncated at a segment boundary', () => stored.subarray(0, storedOffsetOfSegment(2))],
      ['the last segment dropped (earlier segment is not marked last)', () => stored.subarray(0, storedOffsetOfSegment(4))],
      ['two segments swapped', () => Buffer.concat([stored.subarray(0, storedOffsetOfSegment(1)), stored.subarray(storedOffsetOfSegment(2), storedOffsetOfSegment(3)),
        stored.subarray(storedOffsetOfSegment(1), storedOffsetOfSegment(2)), stored.subarray(storedOffsetOfSegment(3))])],
      ['a segment from another backup of the same data', () => {
        const other = seal(plain, 'b2');
        return Buffer.concat([stored.subarray(0, storedOffsetOfSegment(1)), other.subarray(storedOffsetOfSegment(1), storedOffsetOfSegment(2)), stored.subarray(storedOffsetOfSegment(2))]);
      }],
      ['bytes appended after the last segment', () => Buffer.concat([stored, Buffer.alloc(10)])],
      ['only the header', () => stored.subarray(0, HEADER_BYTES)],
      ['a bad header', () => { const c = Buffer.from(stored); c[0] = 0x58; return c; }],
    ];
    // With the manifest's size (the tampered object's then differs) and, as if the manifest were
    // altered too, with the tampered object's own.
    for (const [name, make] of cases) {
      it(name, function () {
        assert.throws(() => open(make(), 'b1', key, 7_777, stored.length), SegmentError);
        assert.throws(() => open(make()), SegmentError);
      });
    }
    it('another backup id (associated data)', function () {
      assert.throws(() => open(stored, 'b2'), SegmentError);
    });
    it('another key', function () {
      assert.throws(() => open(stored, 'b1', randomBytes(32)), SegmentError);
    });
    it('a size no encrypted object can have', function () {
      assert.throws(() => new SegmentDecryptor(key, 'b1', HEADER_BYTES + 15), /27 bytes is not the size of an encrypted snapshot/);
    });
  });

  it('no plaintext of a segment is handed on before its tag has passed', function () {
    const plain = randomBytes(3 * SEGMENT_BYTES + 10);
    const bad = seal(plain);
    bad[storedOffsetOfSegment(1) + 5]! ^= 1;
    const dec = new SegmentDecryptor(key, 'b1', bad.length);
    const released: Buffer[] = [];
    assert.throws(() => {
      for (let i = 0; i < bad.length; i += 4096) released.push(...dec.push(bad.subarray(i, i + 4096)));
    }, /segment 1 failed authentication/);
    assert.ok(Buffer.concat(released).equals(plain.subarray(0, SEGMENT_BYTES)), 'segment 0 only, nothing of the altered segment 1');
  });

  it('pushed chunks are copied, not held: a caller may refill its buffer after each push', function () {
    const plain = randomBytes(2 * SEGMENT_BYTES + 777);
    const reused = Buffer.alloc(65_536);
    const feed = (c: { push(b: Buffer): Buffer[]; end(): Buffer[] | void }, bytes: Buffer) => {
      const out: Buffer[] = [];
      for (let i = 0; i < bytes.length; i += reused.length) {
        const n = bytes.copy(reused, 0, i, i + reused.length);
        out.push(...c.push(reused.subarray(0, n)));
        reused.fill(0xee); // what a socket or file reader would do with its next read
      }
      return Buffer.concat([...out, ...(c.end() ?? [])]);
    };
    const stored = feed(new SegmentEncryptor(key, 'b1'), plain);
    assert.ok(open(stored).equals(plain));
    assert.ok(feed(new SegmentDecryptor(key, 'b1', stored.length), stored).equals(plain));
  });

  it('decryption resumes at a segment boundary with the header’s nonce prefix', function () {
    const plain = randomBytes(3 * SEGMENT_BYTES + 99);
    const stored = seal(plain);
    const dec = new SegmentDecryptor(key, 'b1', stored.length, { prefix: stored.subarray(5, HEADER_BYTES), segment: 2 });
    const tail = Buffer.concat(dec.push(stored.subarray(storedOffsetOfSegment(2))));
    dec.end();
    assert.ok(tail.equals(plain.subarray(2 * SEGMENT_BYTES)));
  });

  it('keys: by id from their variables; a missing or malformed key is named, never shown', function () {
    const good = randomBytes(32).toString('base64');
    const vars: Record<string, string> = { GOOD: good, SHORT: randomBytes(16).toString('base64') };
    const ring = new Keyring({ current: 'a', keys: { a: { keyEnv: 'GOOD' }, s: { keyEnv: 'SHORT' }, u: { keyEnv: 'UNSET' } } }, (v) => {
      if (!vars[v]) throw new Error(`secret ${v} is not set`);
      return vars[v];
    });
    assert.equal(ring.key('a').toString('base64'), good);
    assert.equal(ring.problem('a'), undefined);
    assert.equal(ring.problem('k2026'), 'key k2026 not configured');
    assert.match(ring.problem('u')!, /^key u not configured: secret UNSET is not set/);
    assert.match(ring.problem('s')!, /key s \(SHORT\) must be 32 bytes in base64/);
    assert.ok(!ring.problem('s')!.includes(vars.SHORT!));
  });
});
