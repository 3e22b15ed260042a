// The streaming core of every backup transfer: bytes from a source (a Redis SYNC, or another
// location's object) are checked as RDB, hashed, and uploaded multipart in one pass. Memory is
// bounded by queueSize parts, never by the snapshot. The stored object is then proven equal to
// what was sent by its size and multipart ETag.
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { type RdbSummary, RdbVerifier, type RdbVerifierOptions } from '../lib/rdb';
import type { BackupStore } from './backup-store';
import { StreamDigest } from './stream-digest';

export interface UploadResult {
  bytes: number;
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
}

export async function uploadVerified(source: AsyncIterable<Buffer>, store: BackupStore, key: string, opts: UploadOptions): Promise<UploadResult> {
  const verifier = new RdbVerifier(opts.verifier);
  const digest = new StreamDigest(opts.partSize);
  const body = new PassThrough({ highWaterMark: 1 << 20 });
  const upload = store.newUpload(key, body, opts.partSize, opts.queueSize, opts.retainUntil);
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
      verifier.push(chunk);
      digest.update(chunk);
      opts.onBytes?.(digest.bytes);
      if (body.destroyed) throw body.errored ?? new Error('upload stopped');
      if (!body.write(chunk)) await once(body, 'drain');
    }
    const rdb = verifier.end();
    body.end();
    await uploaded;
    const { sha256, etags } = digest.finish();
    // What S3 now holds, not what the upload call reported.
    const stored = await store.headObject(key);
    if (!stored || stored.bytes !== digest.bytes || !etags.includes(stored.etag)) {
      throw new Error(`${store.name} object ${key} does not match what was sent: ${stored?.bytes ?? 'no'} bytes (sent ${digest.bytes}), ETag ${stored?.etag || 'none'} (expected ${etags.join(' or ')})`);
    }
    return { bytes: digest.bytes, sha256, etag: stored.etag, rdb };
  } catch (err) {
    body.destroy();
    await upload.abort().catch(() => undefined);
    await uploaded.catch(() => undefined);
    throw err;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
}
