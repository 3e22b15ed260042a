// The writer a plaintext download is staged through: bytes land at their offsets in order,
// `written` (what a heartbeat may claim once flushed) counts only completed writes, and a short or
// failed write is an error, never bytes silently missing from the staged file.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writev } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { batchedWriter } from '../../src/infra/batched-writer';

describe('batchedWriter', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'batched-writer-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('appends after the bytes already there, in order, across batches; written trails the completed writes', async () => {
    const file = path.join(dir, 'a');
    const head = randomBytes(1000);
    writeFileSync(file, head);
    const fd = openSync(file, 'r+');
    const completed: number[] = [];
    const w = batchedWriter(async (bufs, at) => {
      const r = await promisify(writev)(fd, bufs, at);
      completed.push(at + r.bytesWritten);
      return r;
    }, head.length);
    const chunks = Array.from({ length: 40 }, (_, i) => randomBytes(64 * 1024 + i));
    for (const c of chunks) {
      await w.add(c);
      assert.ok(w.written <= (completed.at(-1) ?? head.length), 'written never claims a write still in flight');
    }
    await w.drain();
    closeSync(fd);
    assert.ok(completed.length >= 2, 'more than one batch');
    assert.equal(w.written, head.length + chunks.reduce((n, c) => n + c.length, 0));
    assert.deepEqual(readFileSync(file), Buffer.concat([head, ...chunks]));
  });

  it('a short write fails the drain, naming the bytes and offset; written stays before it', async () => {
    const w = batchedWriter(async (bufs) => ({ bytesWritten: bufs.reduce((n, b) => n + b.length, 0) - 1 }), 0);
    await w.add(Buffer.alloc(10));
    await assert.rejects(w.drain(), /^Error: short write: 9 of 10 bytes at offset 0$/);
    assert.equal(w.written, 0);
  });

  it('a failed write surfaces at the next full batch', async () => {
    const w = batchedWriter(async () => { throw new Error('ENOSPC: no space left on device'); }, 0);
    await w.add(Buffer.alloc(1 << 20)); // starts the write that fails
    await assert.rejects(w.add(Buffer.alloc(1 << 20)), /ENOSPC/);
  });
});
