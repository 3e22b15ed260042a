// The streaming core of every backup transfer: bytes from a source (a Redis SYNC, or another
// location's object) are checked as RDB, hashed, and uploaded multipart in one pass. Memory is
// bounded by queueSize parts, never by the snapshot. The stored object is then proven equal to
// what was sent by its size and multipart ETag. With a key, the snapshot is encrypted on the way
// (encrypt), or arrives encrypted and is stored as is while it is decrypted to check (decrypt):
// either way the RDB checks and SHA-256 see the plaintext, the ETag the stored ciphertext.
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { type RdbSummary, RdbVerifier, type RdbVerifierOptions } from '../lib/rdb';
import type { BackupStore } from './backup-store';
import { SegmentDecryptor, SegmentEncryptor } from './segment-crypto';
import { StreamDigest } from './stream-digest';

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
  crypt?: { mode: 'encrypt' | 'decrypt'; key: Buffer; backupId: string };
}

/** Splits each source chunk into what is checked (plaintext) and what is stored. */
function cryptStep(crypt: UploadOptions['crypt']): { step(chunk: Buffer): { plain: Buffer[]; stored: Buffer[] }; end(): { plain: Buffer[]; stored: Buffer[] } } {
  if (!crypt) return { step: (c) => ({ plain: [c], stored: [c] }), end: () => ({ plain: [], stored: [] }) };
  if (crypt.mode === 'encrypt') {
    const enc = new SegmentEncryptor(crypt.key, crypt.backupId);
    return { step: (c) => ({ plain: [c], stored: enc.push(c) }), end: () => ({ plain: [], stored: enc.end() }) };
  }
  const dec = new SegmentDecryptor(crypt.key, crypt.backupId);
  return { step: (c) => ({ plain: dec.push(c), stored: [c] }), end: () => ({ plain: dec.end(), stored: [] }) };
}

export async function uploadVerified(source: AsyncIterable<Buffer>, store: BackupStore, key: string, opts: UploadOptions): Promise<UploadResult> {
  const verifier = new RdbVerifier(opts.verifier);
  const digest = new StreamDigest(opts.partSize);
  const body = new PassThrough({ highWaterMark: 1 << 20 });
  const upload = store.newUpload(key, body, opts.partSize, opts.queueSize, opts.retainUntil);
  const crypt = cryptStep(opts.crypt);
  const pass = async ({ plain, stored }: { plain: Buffer[]; stored: Buffer[] }) => {
    for (const p of plain) {
      verifier.push(p);
      digest.hashPlain(p);
    }
    for (const c of stored) {
      digest.addStored(c);
      if (body.destroyed) throw body.errored ?? new Error('upload stopped');
      if (!body.write(c)) await once(body, 'drain');
    }
  };
  const uploaded = upload.done();
  // An upload failure destroys the body, which stops the loop below (and a pending wait for
  // 'drain'); the failure itself is reported through `uploaded`.
  uploaded.catch((err: unknown) => body.destroy(err instanceof Error ? err : new Error(String(err))));
  body.on('error', () => undefined);
  const onAbort = () => body.destroy(new Error('cancelled'));
  opts.signal?.addEventListener('abort', onAbort);
  try {
    for await (const chunk of source) {
      opts.signal?.throwIfAborted();
      await pass(crypt.step(chunk));
      opts.onBytes?.(digest.plainBytes);
    }
    await pass(crypt.end());
    const rdb = verifier.end();
    body.end();
    await uploaded;
    const { sha256, etags } = digest.finish();
    // What S3 now holds, not what the upload call reported.
    const stored = await store.headObject(key);
    if (!stored || stored.bytes !== digest.bytes || !etags.includes(stored.etag)) {
      throw new Error(`${store.name} object ${key} does not match what was sent: ${stored?.bytes ?? 'no'} bytes (sent ${digest.bytes}), ETag ${stored?.etag || 'none'} (expected ${etags.join(' or ')})`);
    }
    return { bytes: digest.plainBytes, storedBytes: digest.bytes, sha256, etag: stored.etag, rdb };
  } catch (err) {
    body.destroy();
    await upload.abort().catch(() => undefined);
    await uploaded.catch(() => undefined);
    throw err;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
}
