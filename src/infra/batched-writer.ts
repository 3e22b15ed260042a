// Appends a download's chunks to the staging file in ~1 MiB batches with one write in flight, so
// receiving the next chunks overlaps the disk write (one awaited write per 64 KiB chunk stalled the
// download by ~1 s per GiB). The staging thread writes what it decrypts with writeSync instead:
// through this writer and libuv's pool it took more CPU and was slower (docs/benchmarks.md).

/** Writes `bufs` at file offset `at` (FileHandle.writev). */
export type WriteAt = (bufs: Buffer[], at: number) => Promise<{ bytesWritten: number }>;

const BATCH_BYTES = 1 << 20;

export function batchedWriter(writev: WriteAt, from: number) {
  let written = from;
  let writing: Promise<void> = Promise.resolve();
  let batch: Buffer[] = [];
  let batchBytes = 0;
  const startWrite = async () => {
    await writing;
    const bufs = batch;
    const at = written;
    const n = batchBytes;
    batch = [];
    batchBytes = 0;
    writing = writev(bufs, at).then(({ bytesWritten }) => {
      if (bytesWritten !== n) throw new Error(`short write: ${bytesWritten} of ${n} bytes at offset ${at}`);
      written = at + n;
    });
    writing.catch(() => undefined); // awaited later; never an unhandled rejection meanwhile
  };
  return {
    /** Bytes written so far (not yet flushed). */
    get written() {
      return written;
    },
    /** Queues a chunk (kept, not copied); waits for the write before only when a batch is full. */
    async add(chunk: Buffer) {
      batch.push(chunk);
      batchBytes += chunk.length;
      if (batchBytes >= BATCH_BYTES) await startWrite();
    },
    /** Writes what is pending. */
    async drain(): Promise<void> {
      if (batchBytes > 0) await startWrite();
      await writing;
    },
  };
}
