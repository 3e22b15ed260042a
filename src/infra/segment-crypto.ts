// Streaming AEAD for snapshots (the STREAM construction over AES-256-GCM, node:crypto only).
// Object layout: a 12-byte header ("TTNE" + version 1 + a random 7-byte nonce prefix), then
// segments of SEGMENT_BYTES plaintext (the last one shorter, possibly empty), each followed by its
// 16-byte GCM tag. Nonce = prefix(7) ‖ segment counter (uint32 BE) ‖ last flag (1 byte), and the
// backup id is the associated data: a flipped byte, a truncated object, reordered segments or a
// segment from another backup (other prefix, other id) all fail a tag. Memory: about one segment.
import { createCipheriv, createDecipheriv, type DecipherGCM, randomBytes } from 'node:crypto';
import { ENCRYPTION_FORMAT, SEGMENT_BYTES } from '../lib/manifest';

export { ENCRYPTION_FORMAT, SEGMENT_BYTES };
const MAGIC = Buffer.from('TTNE\x01', 'latin1');
export const HEADER_BYTES = 12;
const PREFIX_BYTES = HEADER_BYTES - MAGIC.length;
const TAG_BYTES = 16;
const STORED_SEGMENT = SEGMENT_BYTES + TAG_BYTES;

/** A tag or framing check failed: the stored bytes are not what was encrypted for this backup. */
export class SegmentError extends Error {
  override name = 'SegmentError';
}

/** Stored size of a plaintext of `plainBytes`: header, the bytes, one tag per segment (at least one). */
export function encryptedSize(plainBytes: number): number {
  return HEADER_BYTES + plainBytes + TAG_BYTES * Math.max(1, Math.ceil(plainBytes / SEGMENT_BYTES));
}

/** Where the segment holding plaintext offset `plain` (a segment boundary) starts in the object. */
export function storedOffsetOfSegment(segment: number): number {
  return HEADER_BYTES + segment * STORED_SEGMENT;
}

function nonce(prefix: Buffer, counter: number, last: boolean): Buffer {
  const n = Buffer.alloc(12);
  prefix.copy(n, 0);
  n.writeUInt32BE(counter, PREFIX_BYTES);
  n[11] = last ? 1 : 0;
  return n;
}

function checkKey(key: Buffer): void {
  if (key.length !== 32) throw new Error(`an AES-256 key is 32 bytes, not ${key.length}`);
}

/**
 * Collects each segment's plaintext in one reused buffer (the pushed chunks are copied, never
 * held) and encrypts it in one pass once it is known whether it is the last: a full segment is
 * sealed when the next byte arrives, the one the stream ends in by `end`. Holding the pushed
 * chunks (or per-chunk ciphertext) for a whole segment instead made them outlive V8's young
 * generation, and the full GCs that freed them cost more CPU than the cipher.
 */
export class SegmentEncryptor {
  private readonly prefix = randomBytes(PREFIX_BYTES);
  private readonly aad: Buffer;
  private counter = 0;
  private started = false;
  private readonly segment = Buffer.allocUnsafeSlow(SEGMENT_BYTES);
  private got = 0;

  constructor(private readonly key: Buffer, backupId: string) {
    checkKey(key);
    this.aad = Buffer.from(backupId, 'utf8');
  }

  /** Ciphertext for the bytes so far; a full segment is held back until we know it is not the last. */
  push(plain: Buffer): Buffer[] {
    const out = this.header();
    for (let at = 0; at < plain.length;) {
      if (this.got === SEGMENT_BYTES) out.push(...this.seal(false)); // more bytes follow: not the last
      const n = plain.copy(this.segment, this.got, at, at + SEGMENT_BYTES - this.got);
      this.got += n;
      at += n;
    }
    return out;
  }

  end(): Buffer[] {
    const out = this.header();
    out.push(...this.seal(true));
    return out;
  }

  private header(): Buffer[] {
    if (this.started) return [];
    this.started = true;
    return [Buffer.concat([MAGIC, this.prefix])];
  }

  private seal(last: boolean): Buffer[] {
    if (this.counter > 0xffffffff) throw new Error('snapshot too large for one encrypted object');
    const c = createCipheriv('aes-256-gcm', this.key, nonce(this.prefix, this.counter++, last));
    c.setAAD(this.aad);
    const body = c.update(this.segment.subarray(0, this.got));
    c.final();
    this.got = 0;
    return [body, c.getAuthTag()];
  }
}

/**
 * Decrypts each pushed chunk as it arrives and hands a segment's plaintext on only after its tag
 * has passed. It is told the stored object's size (a restore: the manifest's, checked against S3's
 * HEAD; `verify`: S3's; the off-site copy: the manifest's), so the last segment is known up front
 * and opened as the last from its first byte, and only each segment's 16-byte tag is copied:
 * pushed chunks are never held. (Not knowing it meant copying every stored byte into a segment
 * buffer to reopen the final one as the last: from a shared buffer that cost a restore 0.6
 * CPU-s/GiB; opening whole 1 MiB segments in one pass, each into a fresh 1 MiB buffer, cost
 * 0.3–1.7 CPU-s/GiB. docs/backups.md has the figures.) A size that differs from the object's
 * makes a segment fail its tag, or the stream end early or go on too long: all refused.
 */
export class SegmentDecryptor {
  private readonly aad: Buffer;
  private header = Buffer.alloc(0);
  private prefix: Buffer | undefined;
  private counter: number;
  private done = false;
  private got = 0;
  // The current segment's decipher, its plaintext so far (not yet authenticated) and its tag.
  private decipher: DecipherGCM | undefined;
  private plain: Buffer[] = [];
  private readonly tag = Buffer.alloc(TAG_BYTES);
  /** The last segment's index. */
  private readonly last: number;

  /** storedBytes: the whole object's size. To resume mid-object: the header's nonce prefix and the first segment that will be fed. */
  constructor(private readonly key: Buffer, backupId: string, private readonly storedBytes: number, resume?: { prefix: Buffer; segment: number }) {
    checkKey(key);
    this.aad = Buffer.from(backupId, 'utf8');
    this.prefix = resume?.prefix;
    this.counter = resume?.segment ?? 0;
    this.last = Math.max(0, Math.ceil((storedBytes - HEADER_BYTES) / STORED_SEGMENT) - 1);
    if (storedBytes - storedOffsetOfSegment(this.last) < TAG_BYTES) throw new SegmentError(`${storedBytes} bytes is not the size of an encrypted snapshot`);
  }

  /** The header's nonce prefix (hex), once read: a resumed download needs it. */
  get noncePrefix(): string | undefined {
    return this.prefix?.toString('hex');
  }

  /** Plaintext of the segments whose tags passed. */
  push(stored: Buffer): Buffer[] {
    if (this.done) throw new SegmentError('encrypted object continues after its last segment');
    let chunk = stored;
    if (!this.prefix) {
      const need = HEADER_BYTES - this.header.length;
      this.header = Buffer.concat([this.header, chunk.subarray(0, need)]);
      chunk = chunk.subarray(need);
      if (this.header.length < HEADER_BYTES) return [];
      if (!this.header.subarray(0, MAGIC.length).equals(MAGIC)) throw new SegmentError('not an encrypted Titan snapshot (bad header)');
      this.prefix = Buffer.from(this.header.subarray(MAGIC.length));
    }
    return this.pushSegments(chunk);
  }

  // Each segment opened with its final nonce (last or not) from its first byte; only its tag is copied.
  private pushSegments(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    const last = this.last;
    for (let at = 0; at < chunk.length;) {
      if (this.counter > last) throw new SegmentError('encrypted object continues after its last segment');
      const isLast = this.counter === last;
      const length = isLast ? this.storedBytes - storedOffsetOfSegment(last) : STORED_SEGMENT;
      const bodyBytes = length - TAG_BYTES;
      const n = Math.min(chunk.length - at, length - this.got);
      this.decipher ??= this.decipherFor(this.counter, isLast);
      const body = Math.max(0, Math.min(this.got + n, bodyBytes) - this.got);
      if (body > 0) this.plain.push(this.decipher.update(chunk.subarray(at, at + body)));
      if (this.got + n > bodyBytes) chunk.copy(this.tag, this.got + body - bodyBytes, at + body, at + n);
      this.got += n;
      at += n;
      if (this.got < length) continue;
      this.verify(this.decipher, this.counter++, this.tag);
      out.push(...this.plain);
      this.plain = [];
      this.decipher = undefined;
      this.got = 0;
      this.done = isLast;
    }
    return out;
  }

  /** Throws when the object was cut short. */
  end(): void {
    if (!this.prefix) throw new SegmentError('encrypted object is truncated (no header)');
    if (!this.done) throw new SegmentError('encrypted object is truncated');
  }

  // A valid middle segment that fails as last (or the reverse) means the object was cut or reordered.
  private verify(d: DecipherGCM, index: number, tag: Buffer): void {
    d.setAuthTag(tag);
    try {
      d.final();
    } catch {
      throw new SegmentError(`encrypted segment ${index} failed authentication (altered, truncated, reordered or from another backup)`);
    }
  }

  private decipherFor(index: number, last: boolean): DecipherGCM {
    const d = createDecipheriv('aes-256-gcm', this.key, nonce(this.prefix!, index, last));
    d.setAAD(this.aad);
    return d;
  }
}
