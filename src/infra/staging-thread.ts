// The per-byte work of a download being staged, on a worker thread: the checks (SHA-256, the RDB
// walk with its CRC64, the expiry histogram) and, of an encrypted backup, decrypting and writing
// the plaintext. The event loop copies each received chunk into a ring of shared 1 MiB slots and
// goes on receiving (and writing a plaintext backup's chunks itself); on two CPUs the rest runs
// beside the download instead of after each chunk of it. Plaintext is written by whoever holds it:
// decrypting on the event loop made an encrypted restore 20 % slower than a plaintext one, and
// the thread writing a plaintext backup from the shared slots made it slower (docs/benchmarks.md).
// The results are the same as doing it all in line (test/unit/staging-thread.test.ts).
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { RdbError, type RdbErrorCode, type RdbSummary } from '../lib/rdb';
import type { ExpiryHistogram } from '../lib/restore-plan';
import { SegmentError } from './segment-crypto';

export const SLOT_BYTES = 1 << 20;
const SLOTS = 8;

export interface StagingSetup {
  shared: SharedArrayBuffer;
  /** The staging file: the thread reads back what an interrupted attempt left, and writes decrypted plaintext. */
  fd: number;
  /** Plaintext bytes already on disk from an interrupted attempt: checked again before any push. */
  resume: number;
  /** Of an encrypted backup: its key, the backup id (the associated data), the object's size and where to pick up. */
  decrypt?: { key: Uint8Array; backupId: string; storedBytes: number; resume?: { prefix: string; segment: number } };
  maxVersion?: number;
  /** When the histogram's window starts (the staging time). */
  now: number;
}

/** What the thread posts back. */
export type StagingMessage =
  | { free: number; written: number }
  | { noncePrefix: string }
  | { failed: { kind: 'rdb' | 'segment' | 'io'; code?: RdbErrorCode; message: string } }
  | { done: StagingResult };

export interface StagingResult {
  sha256: string;
  /** The RDB's summary, or why the file does not end as an RDB must. */
  rdb: RdbSummary | { error: string };
  expiries: ExpiryHistogram;
  /** Decrypted plaintext bytes in the staging file (written, not yet flushed); the resumed ones included. */
  written: number;
}

export class StagingThread {
  private readonly shared = new SharedArrayBuffer(SLOT_BYTES * SLOTS);
  private readonly view = new Uint8Array(this.shared);
  private readonly thread: Worker;
  private readonly free: number[] = [];
  private slot: number | undefined;
  private filled = 0;
  private failure: Error | undefined;
  private finished = false;
  private wake: (() => void) | undefined;
  private result: Promise<StagingResult>;
  /** Decrypted plaintext bytes the thread has written to the file so far. */
  written: number;
  /** An encrypted object's nonce prefix (public), once the thread has read the header. */
  noncePrefix: string | undefined;

  constructor(setup: Omit<StagingSetup, 'shared'>) {
    for (let i = 0; i < SLOTS; i++) this.free.push(i);
    this.written = setup.resume;
    this.noncePrefix = setup.decrypt?.resume?.prefix;
    this.thread = new Worker(path.join(__dirname, 'staging-thread-run.js'), { workerData: { ...setup, shared: this.shared } satisfies StagingSetup });
    this.result = new Promise((resolve, reject) => {
      this.thread.on('message', (m: StagingMessage) => {
        if ('free' in m) {
          this.free.push(m.free);
          this.written = m.written;
        } else if ('noncePrefix' in m) this.noncePrefix = m.noncePrefix;
        else if ('failed' in m) this.failure = threadError(m.failed);
        else {
          this.finished = true;
          this.written = m.done.written;
          resolve(m.done);
        }
        this.wakeUp();
      });
      this.thread.on('error', (err) => {
        this.failure = err;
        reject(err);
        this.wakeUp();
      });
      this.thread.on('exit', (code) => {
        if (this.finished) return;
        this.failure ??= new Error(`the staging thread exited (${code}) before it had checked everything`);
        reject(this.failure);
        this.wakeUp();
      });
    });
    this.result.catch(() => undefined); // surfaced by push or end
  }

  /** Copies the stored bytes into the ring; waits only when all slots are still being worked on. */
  async push(chunk: Uint8Array): Promise<void> {
    for (let at = 0; at < chunk.length;) {
      if (this.failure) throw this.failure;
      if (this.slot === undefined) this.slot = await this.nextFree();
      const n = Math.min(chunk.length - at, SLOT_BYTES - this.filled);
      this.view.set(chunk.subarray(at, at + n), this.slot * SLOT_BYTES + this.filled);
      this.filled += n;
      at += n;
      if (this.filled === SLOT_BYTES) this.send();
    }
    if (this.failure) throw this.failure;
  }

  /**
   * The results once every pushed byte is checked (and decrypted and written); a failed tag, an
   * RDB structure error or a write error surfaces here or in push.
   */
  async end(): Promise<StagingResult> {
    if (this.filled > 0) this.send();
    this.thread.postMessage({ end: true });
    const done = await this.result;
    if (this.failure) throw this.failure;
    return done;
  }

  /** Stops the thread; only then may the file be closed (the thread reads and writes through it). */
  async close(): Promise<void> {
    await this.thread.terminate();
  }

  private send(): void {
    this.thread.postMessage({ slot: this.slot, bytes: this.filled });
    this.slot = undefined;
    this.filled = 0;
  }

  private async nextFree(): Promise<number> {
    while (this.free.length === 0) {
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    return this.free.shift()!;
  }

  private wakeUp(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }
}

function threadError(f: Extract<StagingMessage, { failed: unknown }>['failed']): Error {
  if (f.kind === 'rdb') return new RdbError(f.code ?? 'CORRUPT', f.message);
  if (f.kind === 'segment') return new SegmentError(f.message);
  return new Error(f.message);
}
