// The per-byte work of a download being staged, on worker threads: the checks (SHA-256, the RDB
// walk with its CRC64, the expiry histogram) and, of an encrypted backup, decrypting and writing
// the plaintext. The event loop copies each received chunk into a ring of shared 1 MiB slots and
// goes on receiving (and writing a plaintext backup's chunks itself); on two CPUs the rest runs
// beside the download instead of after each chunk of it. Plaintext is written by whoever holds it:
// decrypting on the event loop made an encrypted restore 20 % slower than a plaintext one, and
// the thread writing a plaintext backup from the shared slots made it slower (docs/benchmarks.md).
// An encrypted backup takes two threads: one decrypts and writes, the other reads the plaintext
// back and checks it; on one thread, decrypting, writing and checking made it the download's
// bottleneck. The results are the same as doing it all in line (test/unit/staging-thread.test.ts).
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { RdbError, type RdbErrorCode, type RdbSummary } from '../lib/rdb';
import type { ExpiryHistogram } from '../lib/restore-plan';
import { SegmentError } from './segment-crypto';

export const SLOT_BYTES = 1 << 20;
const SLOTS = 8;
/** Cells of the progress array the decrypting thread publishes to the checking one. */
export const PROGRESS = { seq: 0, written: 1, state: 2 } as const;
export const RUNNING = 0;
/** Everything is decrypted and written. */
export const ENDED = 1;
/** The decrypting thread failed: what is written is all there will be. */
export const STOPPED = 2;

export interface StagingSetup {
  shared: SharedArrayBuffer;
  /** BigInt64 cells (PROGRESS): the plaintext written so far, and the decrypting thread's state. */
  progress: SharedArrayBuffer;
  /** The staging file (read and write): the threads read back what an interrupted attempt left, write decrypted plaintext and read it back. */
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
  /** The decrypting thread's last message. */
  | { ended: true }
  /** The checking thread's last message. */
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
  private readonly threads: Worker[] = [];
  private readonly free: number[] = [];
  private slot: number | undefined;
  private filled = 0;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;
  private readonly result: Promise<StagingResult>;
  private settle!: { resolve(r: StagingResult): void; reject(err: Error): void };
  /** Threads yet to post their last message; the checking thread's results. */
  private running = 0;
  private checked: StagingResult | undefined;
  /** Decrypted plaintext bytes the thread has written to the file so far. */
  written: number;
  /** An encrypted object's nonce prefix (public), once the thread has read the header. */
  noncePrefix: string | undefined;

  constructor(setup: Omit<StagingSetup, 'shared' | 'progress'>) {
    for (let i = 0; i < SLOTS; i++) this.free.push(i);
    this.written = setup.resume;
    this.noncePrefix = setup.decrypt?.resume?.prefix;
    this.result = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    this.result.catch(() => undefined); // surfaced by push or end
    const data: StagingSetup = { ...setup, shared: this.shared, progress: new SharedArrayBuffer(3 * 8) };
    this.start('staging-thread-run.js', data); // the slots' reader: first, it is sent the slots
    if (setup.decrypt) this.start('staging-check-run.js', data);
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
    this.threads[0]!.postMessage({ end: true });
    const done = await this.result;
    if (this.failure) throw this.failure;
    return done;
  }

  /** Stops the threads; only then may the file be closed (they read and write through it). */
  async close(): Promise<void> {
    await Promise.all(this.threads.map((t) => t.terminate()));
  }

  private start(file: string, workerData: StagingSetup): void {
    const thread = new Worker(path.join(__dirname, file), { workerData });
    let ended = false;
    this.running++;
    // A thread's messages arrive in order: a failure it reports comes before its last message.
    thread.on('message', (m: StagingMessage) => {
      if ('free' in m) {
        this.free.push(m.free);
        this.written = Math.max(this.written, m.written); // the checking thread's results may come first
      } else if ('noncePrefix' in m) this.noncePrefix = m.noncePrefix;
      else if ('failed' in m) this.failure ??= threadError(m.failed);
      else {
        ended = true;
        if ('done' in m) {
          this.checked = m.done;
          this.written = m.done.written; // the last bytes may have been written after the last slot
        }
        if (--this.running === 0) this.settle.resolve(this.checked!);
      }
      this.wakeUp();
    });
    thread.on('error', (err) => {
      this.failure ??= err;
      this.settle.reject(this.failure);
      this.wakeUp();
    });
    thread.on('exit', (code) => {
      if (ended) return;
      this.failure ??= new Error(`the staging thread exited (${code}) before it had checked everything`);
      this.settle.reject(this.failure);
      this.wakeUp();
    });
    this.threads.push(thread);
  }

  private send(): void {
    this.threads[0]!.postMessage({ slot: this.slot, bytes: this.filled });
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
