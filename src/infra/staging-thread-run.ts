// The thread of staging-thread.ts: takes each slot of stored bytes it is sent, in order, decrypts
// it if the backup is encrypted (a segment's plaintext only once its tag passed) and writes that
// plaintext to the staging file, runs the checks over the plaintext, and hands the slot back.
import { createHash } from 'node:crypto';
import { readSync, writeSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { RdbError, RdbVerifier } from '../lib/rdb';
import { newExpiryHistogram, recordExpiry } from '../lib/restore-plan';
import { SegmentDecryptor, SegmentError } from './segment-crypto';
import { type StagingMessage, type StagingSetup, SLOT_BYTES } from './staging-thread';

const setup = workerData as StagingSetup;
const sha = createHash('sha256');
const expiries = newExpiryHistogram(setup.now);
const rdb = new RdbVerifier({ maxVersion: setup.maxVersion, onExpire: (db, at) => recordExpiry(expiries, db, at) });
let written = setup.resume;
let failed = false;
const post = (m: StagingMessage) => parentPort!.postMessage(m);

function check(plain: Uint8Array): void {
  sha.update(plain);
  rdb.push(plain);
}

function fail(err: unknown): void {
  failed = true;
  const e = err as Error;
  const kind = e instanceof RdbError ? 'rdb' : e instanceof SegmentError ? 'segment' : 'io';
  post({ failed: { kind, code: e instanceof RdbError ? e.code : undefined, message: e.message } });
}

function write(plain: Buffer): void {
  check(plain);
  for (let at = 0; at < plain.length;) at += writeSync(setup.fd, plain, at, plain.length - at, written + at);
  written += plain.length;
}

let decrypt: SegmentDecryptor | undefined;
// The decryptor (an impossible object size fails the staging as a bad segment would), then the
// bytes an interrupted attempt left on disk: hashed and walked again.
try {
  const d = setup.decrypt;
  decrypt = d && new SegmentDecryptor(Buffer.from(d.key), d.backupId, d.resume && { prefix: Buffer.from(d.resume.prefix, 'hex'), segment: d.resume.segment }, d.storedBytes);
  const buf = Buffer.allocUnsafe(SLOT_BYTES);
  for (let at = 0; at < setup.resume;) {
    const n = readSync(setup.fd, buf, 0, Math.min(SLOT_BYTES, setup.resume - at), at);
    if (n === 0) throw new Error(`the staged file ends at ${at} bytes, before the ${setup.resume} the earlier attempt flushed`);
    check(buf.subarray(0, n));
    at += n;
  }
} catch (err) {
  fail(err);
}

parentPort!.on('message', (m: { slot: number; bytes: number } | { end: true }) => {
  if ('slot' in m) {
    if (!failed) {
      const stored = Buffer.from(setup.shared, m.slot * SLOT_BYTES, m.bytes); // a view, not a copy
      try {
        const had = decrypt?.noncePrefix;
        if (decrypt) decrypt.push(stored).forEach(write);
        else check(stored);
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
      decrypt.end().forEach(write);
    } catch (err) {
      fail(err);
    }
  }
  let summary;
  try {
    summary = rdb.end();
  } catch (err) {
    summary = { error: (err as Error).message };
  }
  post({ done: { sha256: sha.digest('hex'), rdb: summary, expiries, written } });
  parentPort!.close();
});
