// The per-byte checks of a download being staged (SHA-256, the RDB walk with its CRC64, the expiry
// histogram) on a worker thread. The event loop copies each chunk into a ring of shared 1 MiB
// slots and goes on receiving and writing; on two CPUs the checks then run beside the download
// instead of after each chunk of it. The results are the same as running the checks in line
// (test/unit/staging-checks.test.ts compares them).
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { RdbError, type RdbErrorCode, type RdbSummary } from '../lib/rdb';
import type { ExpiryHistogram } from '../lib/restore-plan';

export const SLOT_BYTES = 1 << 20;
const SLOTS = 8;

export interface ChecksSetup {
  shared: SharedArrayBuffer;
  maxVersion?: number;
  /** When the histogram's window starts (the staging time). */
  now: number;
}

/** What the thread posts back. */
export type ChecksMessage =
  | { free: number }
  | { failed: { code: RdbErrorCode; message: string } }
  | { done: ChecksResult };

export interface ChecksResult {
  sha256: string;
  /** The RDB's summary, or why the file does not end as an RDB must. */
  rdb: RdbSummary | { error: string };
  expiries: ExpiryHistogram;
}

export class ThreadedChecks {
  private readonly shared = new SharedArrayBuffer(SLOT_BYTES * SLOTS);
  private readonly view = new Uint8Array(this.shared);
  private readonly thread: Worker;
  private readonly free: number[] = [];
  private slot: number | undefined;
  private filled = 0;
  private failure: Error | undefined;
  private finished = false;
  private wake: (() => void) | undefined;
  private result: Promise<ChecksResult>;

  constructor(opts: { maxVersion?: number; now: number }) {
    for (let i = 0; i < SLOTS; i++) this.free.push(i);
    const setup: ChecksSetup = { shared: this.shared, maxVersion: opts.maxVersion, now: opts.now };
    this.thread = new Worker(path.join(__dirname, 'staging-checks-thread.js'), { workerData: setup });
    this.result = new Promise((resolve, reject) => {
      this.thread.on('message', (m: ChecksMessage) => {
        if ('free' in m) this.free.push(m.free);
        else if ('failed' in m) this.failure = new RdbError(m.failed.code, m.failed.message);
        else {
          this.finished = true;
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
        this.failure ??= new Error(`the checks thread exited (${code}) before it had checked everything`);
        reject(this.failure);
        this.wakeUp();
      });
    });
    this.result.catch(() => undefined); // surfaced by push or end
  }

  /** Copies the chunk into the ring; waits only when all slots are still being checked. */
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

  /** The results once every pushed byte is checked; an RDB structure error surfaces here or in push. */
  async end(): Promise<ChecksResult> {
    if (this.filled > 0) this.send();
    this.thread.postMessage({ end: true });
    const done = await this.result;
    if (this.failure) throw this.failure;
    return done;
  }

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
