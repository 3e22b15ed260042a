// The thread of staging-thread.ts that takes each slot of stored bytes it is sent, in order, and
// hands the slot back. Of a plaintext backup it runs the checks over the slot (after re-checking
// what an interrupted attempt left on disk). Of an encrypted one it decrypts the slot, writes each
// segment's plaintext once its tag passed, and publishes how far the file is written for the
// checking thread (staging-check-run.ts).
import { writeSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { SegmentDecryptor } from './segment-crypto';
import { failedMessage, stagingChecks } from './staging-checks';
import { type StagingMessage, type StagingSetup, ENDED, PROGRESS, SLOT_BYTES, STOPPED } from './staging-thread';

const setup = workerData as StagingSetup;
const post = (m: StagingMessage) => parentPort!.postMessage(m);
const progress = new BigInt64Array(setup.progress);
const checks = setup.decrypt ? undefined : stagingChecks(setup);
let written = setup.resume;
let failed = false;

function fail(err: unknown): void {
  failed = true;
  post(failedMessage(err));
  publish(STOPPED);
}

/** Tells the checking thread what it may read (and whether more will come), and wakes it. */
function publish(state?: typeof ENDED | typeof STOPPED): void {
  Atomics.store(progress, PROGRESS.written, BigInt(written));
  if (state !== undefined) Atomics.store(progress, PROGRESS.state, BigInt(state));
  Atomics.add(progress, PROGRESS.seq, 1n); // last: a reader that saw the old seq saw older values
  Atomics.notify(progress, PROGRESS.seq);
}

function write(plain: Buffer): void {
  for (let at = 0; at < plain.length;) at += writeSync(setup.fd, plain, at, plain.length - at, written + at);
  written += plain.length;
}

let decrypt: SegmentDecryptor | undefined;
// The decryptor (an impossible object size fails the staging as a bad segment would); of a
// plaintext backup, the bytes an interrupted attempt left on disk: hashed and walked again.
try {
  const d = setup.decrypt;
  decrypt = d && new SegmentDecryptor(Buffer.from(d.key), d.backupId, d.storedBytes, d.resume && { prefix: Buffer.from(d.resume.prefix, 'hex'), segment: d.resume.segment });
  checks?.checkFile(setup.fd, 0, setup.resume, 'the earlier attempt flushed');
} catch (err) {
  fail(err);
}

parentPort!.on('message', (m: { slot: number; bytes: number } | { end: true }) => {
  if ('slot' in m) {
    if (!failed) {
      const stored = Buffer.from(setup.shared, m.slot * SLOT_BYTES, m.bytes); // a view, not a copy
      try {
        const had = decrypt?.noncePrefix;
        if (decrypt) {
          decrypt.push(stored).forEach(write);
          publish();
        } else checks!.check(stored);
        if (!had && decrypt?.noncePrefix) post({ noncePrefix: decrypt.noncePrefix });
      } catch (err) {
        fail(err);
      }
    }
    post({ free: m.slot, written });
    return;
  }
  if (decrypt && !failed) {
    try {
      decrypt.end();
      publish(ENDED);
    } catch (err) {
      fail(err);
    }
  }
  // Of an encrypted backup, the checking thread posts the results.
  post(checks ? { done: checks.result(written) } : { ended: true });
  parentPort!.close();
});
