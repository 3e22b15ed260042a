// A multipart upload fed chunk by chunk from a small pool of reused part buffers (at most
// queueSize + 1 of partSize each, whatever the object's size): a fresh 8 MiB buffer per part
// cost about a hundred full GCs per GiB. Each part carries its CRC32 (zlib's, native), which S3
// checks on receipt and refuses on mismatch; at the end the object's composite checksum (the
// CRC32 of the parts' CRC32s, "-N") is what the caller compares with what S3 reports, in place
// of the multipart ETag, which needed an MD5 of every byte in JavaScript's thread.
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, type CompletedPart, CreateMultipartUploadCommand, PutObjectCommand, UploadPartCommand,
} from '@aws-sdk/client-s3';
import type { BuildMiddleware, MiddlewareStack } from '@smithy/types';
import { getMaxListeners, setMaxListeners } from 'node:events';
import { crc32 } from 'node:zlib';
import type { BackupStore } from './backup-store';

/**
 * Sends a body whose CRC32 S3 checks unsigned (x-amz-content-sha256: UNSIGNED-PAYLOAD) instead of
 * signing its SHA-256: SigV4's payload hash cost ~0.6 CPU-s per GiB, and the checksum header it
 * would duplicate is itself signed. Why that is enough: docs/benchmarks.md, Backup.
 */
export function unsignedPayload<C extends UploadPartCommand | PutObjectCommand>(command: C): C {
  const unsigned: BuildMiddleware<object, object> = (next) => async (args) => {
    const request = args.request as { headers?: Record<string, string> };
    if (request.headers?.['x-amz-checksum-crc32']) request.headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
    return next(args);
  };
  (command.middlewareStack as unknown as MiddlewareStack<object, object>).add(unsigned, { step: 'build', name: 'titanUnsignedPayload' });
  return command;
}

const crc32Bytes = (data: Uint8Array): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(crc32(data));
  return b;
};

export class PartUpload {
  private readonly free: Buffer[] = [];
  private allocated = 0;
  private current?: Buffer;
  private fill = 0;
  private readonly parts: (CompletedPart & { crc: Buffer })[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private partsSent = 0;
  private uploadId?: Promise<string>;
  private failure?: unknown;
  /** Bytes written so far. */
  bytes = 0;

  /** Part buffers allocated so far (never more than queueSize + 1). */
  get buffers(): number {
    return this.allocated;
  }

  constructor(
    private readonly store: BackupStore,
    private readonly key: string,
    private readonly partSize: number,
    private readonly queueSize: number,
    private readonly retainUntil?: Date,
    private readonly signal?: AbortSignal,
  ) {
    // Every request in flight (up to queueSize parts) listens on the signal, once or twice inside
    // the SDK; unsigned parts reach that point together, past Node's warning threshold of 10.
    if (signal) setMaxListeners(Math.max(getMaxListeners(signal), 10 + 2 * queueSize), signal);
  }

  /** Copies `chunk` into part buffers; waits only when every buffer is in flight. */
  async write(chunk: Uint8Array): Promise<void> {
    if (this.failure) throw this.failure;
    for (let offset = 0; offset < chunk.length; ) {
      this.current ??= await this.freeBuffer();
      const n = Math.min(this.partSize - this.fill, chunk.length - offset);
      this.current.set(chunk.subarray(offset, offset + n), this.fill);
      this.fill += n;
      offset += n;
      this.bytes += n;
      if (this.fill === this.partSize) this.sendPart();
    }
  }

  /** Completes the object; returns the checksum S3 must then report for it. */
  async end(): Promise<{ crc32: string }> {
    if (this.failure) throw this.failure;
    if (!this.uploadId) {
      // Everything fits one part: a plain PUT, whose checksum is the CRC32 itself.
      const body = (this.current ?? Buffer.alloc(0)).subarray(0, this.fill);
      const crc = crc32Bytes(body).toString('base64');
      await this.store.client.send(unsignedPayload(new PutObjectCommand({ ...this.params(), Body: body, ContentLength: body.length, ChecksumCRC32: crc })), { abortSignal: this.signal });
      return { crc32: crc };
    }
    if (this.fill > 0) this.sendPart();
    await this.settle();
    if (this.failure) throw this.failure;
    const parts = [...this.parts].sort((a, b) => a.PartNumber! - b.PartNumber!);
    await this.store.client.send(new CompleteMultipartUploadCommand({
      Bucket: this.store.bucket, Key: this.key, UploadId: await this.uploadId,
      MultipartUpload: { Parts: parts.map(({ crc: _crc, ...p }) => p) },
    }), { abortSignal: this.signal });
    return { crc32: `${crc32Bytes(Buffer.concat(parts.map((p) => p.crc))).toString('base64')}-${parts.length}` };
  }

  /** Stops sending and removes what was uploaded of the parts; safe to call at any point. */
  async abort(): Promise<void> {
    this.failure ??= new Error('upload aborted');
    await this.settle();
    const id = await this.uploadId?.catch(() => undefined);
    if (id) await this.store.client.send(new AbortMultipartUploadCommand({ Bucket: this.store.bucket, Key: this.key, UploadId: id }));
  }

  private params() {
    return { Bucket: this.store.bucket, Key: this.key, ContentType: 'application/octet-stream', ...this.store.lockParams(this.retainUntil) };
  }

  private async freeBuffer(): Promise<Buffer> {
    for (;;) {
      if (this.failure) throw this.failure;
      const buf = this.free.pop();
      if (buf) return buf;
      if (this.allocated <= this.queueSize) {
        this.allocated++;
        // Outside Node's small-buffer pool: these live as long as the upload.
        return Buffer.allocUnsafeSlow(this.partSize);
      }
      await Promise.race(this.inFlight);
    }
  }

  /** Sends the current buffer as the next part, without waiting for it. */
  private sendPart(): void {
    const buf = this.current!;
    const body = buf.subarray(0, this.fill);
    const partNumber = ++this.partsSent;
    this.current = undefined;
    this.fill = 0;
    this.uploadId ??= this.store.client.send(new CreateMultipartUploadCommand({ ...this.params(), ChecksumAlgorithm: 'CRC32' }), { abortSignal: this.signal })
      .then((r) => r.UploadId!);
    const crc = crc32Bytes(body);
    const sent: Promise<void> = this.uploadId
      .then((uploadId) => this.store.client.send(unsignedPayload(new UploadPartCommand({
        Bucket: this.store.bucket, Key: this.key, UploadId: uploadId, PartNumber: partNumber, Body: body, ContentLength: body.length, ChecksumCRC32: crc.toString('base64'),
      })), { abortSignal: this.signal }))
      .then((r) => {
        this.parts.push({ PartNumber: partNumber, ETag: r.ETag, ChecksumCRC32: r.ChecksumCRC32 ?? crc.toString('base64'), crc });
      })
      .catch((err: unknown) => {
        this.failure ??= err;
      })
      .finally(() => {
        this.inFlight.delete(sent);
        this.free.push(buf);
      });
    this.inFlight.add(sent);
  }

  private async settle(): Promise<void> {
    while (this.inFlight.size) await Promise.race(this.inFlight);
  }
}
