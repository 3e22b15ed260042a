// The streaming core of every backup transfer: bytes from a source (a Redis SYNC, or another
// location's object) are checked as RDB, hashed, and uploaded multipart in one pass. Memory is
// bounded by queueSize + 1 reused part buffers, never by the snapshot. The stored object is then
// proven equal to what was sent by its size and its CRC32 composite checksum (S3 also checked
// each part's CRC32 on receipt; see part-upload.ts). With a key, the snapshot is encrypted on the
// way (encrypt), or arrives encrypted and is stored as is while it is decrypted to check
// (decrypt): either way the RDB checks and SHA-256 see the plaintext, the checksum the ciphertext.
import { createHash } from 'node:crypto';
import { type RdbSummary, RdbVerifier, type RdbVerifierOptions } from '../lib/rdb';
import type { BackupStore } from './backup-store';
import { PartUpload } from './part-upload';
import { SegmentDecryptor, SegmentEncryptor } from './segment-crypto';

export interface UploadResult {
  /** Plaintext bytes (the RDB). */
  bytes: number;
  /** Bytes of the stored object (the ciphertext's when encrypted). */
  storedBytes: number;
  sha256: string;
  etag: string;
  rdb: RdbSummary;
}

export interface UploadOptions {
  partSize: number;
  queueSize: number;
  /** Called as bytes pass; the caller throttles and heartbeats. */
  onBytes?: (bytes: number) => void;
  signal?: AbortSignal;
  /** In a locked location: the object's retain-until date. */
  retainUntil?: Date;
  /** Hooks into the RDB check, e.g. to sample keys as they pass. */
  verifier?: RdbVerifierOptions;
  /** Encrypt plaintext on the way, or check an already encrypted source by decrypting it. */
  crypt?: { mode: 'encrypt'; key: Buffer; backupId: string } | { mode: 'decrypt'; key: Buffer; backupId: string; storedBytes: number };
}

/** Splits each source chunk into what is checked (plaintext) and what is stored. */
function cryptStep(crypt: UploadOptions['crypt']): { step(chunk: Buffer): { plain: Buffer[]; stored: Buffer[] }; end(): { plain: Buffer[]; stored: Buffer[] } } {
  if (!crypt) return { step: (c) => ({ plain: [c], stored: [c] }), end: () => ({ plain: [], stored: [] }) };
  if (crypt.mode === 'encrypt') {
    const enc = new SegmentEncryptor(crypt.key, crypt.backupId);
    return { step: (c) => ({ plain: [c], stored: enc.push(c) }), end: () => ({ plain: [], stored: enc.end() }) };
  }
  const dec = new SegmentDecryptor(crypt.key, crypt.backupId, crypt.storedBytes);
  return { step: (c) => ({ plain: dec.push(c), stored: [c] }), end: () => (dec.end(), { plain: [], stored: [] }) };
}

export async function uploadVerified(source: AsyncIterable<Buffer>, store: BackupStore, key: string, opts: UploadOptions): Promise<UploadResult> {
  const verifier = new RdbVerifier(opts.verifier);
  const sha = createHash('sha256');
  let plainBytes = 0;
  const crypt = cryptStep(opts.crypt); // first: it refuses an impossible encrypted size
  const upload = new PartUpload(store, key, opts.partSize, opts.queueSize, opts.retainUntil, opts.signal);
  const pass = async ({ plain, stored }: { plain: Buffer[]; stored: Buffer[] }) => {
    for (const p of plain) {
      verifier.push(p);
      sha.update(p);
      plainBytes += p.length;
    }
    for (const c of stored) await upload.write(c);
  };
  try {
    for await (const chunk of source) {
      opts.signal?.throwIfAborted();
      await pass(crypt.step(chunk));
      opts.onBytes?.(plainBytes);
    }
    await pass(crypt.end());
    const rdb = verifier.end();
    const sent = await upload.end();
    // What S3 now holds, not what the upload call reported.
    const stored = await store.headObject(key);
    if (!stored || stored.bytes !== upload.bytes || stored.crc32 !== sent.crc32) {
      throw new Error(`${store.name} object ${key} does not match what was sent: ${stored?.bytes ?? 'no'} bytes (sent ${upload.bytes}), CRC32 checksum ${stored?.crc32 ?? 'none'} (expected ${sent.crc32})`);
    }
    return { bytes: plainBytes, storedBytes: upload.bytes, sha256: sha.digest('hex'), etag: stored.etag, rdb };
  } catch (err) {
    await upload.abort().catch(() => undefined);
    throw err;
  }
}
