// The thread of staging-checks.ts: checks each slot it is sent, in order, and hands it back.
import { createHash } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import { RdbError, RdbVerifier } from '../lib/rdb';
import { newExpiryHistogram, recordExpiry } from '../lib/restore-plan';
import { type ChecksMessage, type ChecksSetup, SLOT_BYTES } from './staging-checks';

const setup = workerData as ChecksSetup;
const sha = createHash('sha256');
const expiries = newExpiryHistogram(setup.now);
const rdb = new RdbVerifier({ maxVersion: setup.maxVersion, onExpire: (db, at) => recordExpiry(expiries, db, at) });
let failed = false;
const post = (m: ChecksMessage) => parentPort!.postMessage(m);

parentPort!.on('message', (m: { slot: number; bytes: number } | { end: true }) => {
  if ('slot' in m) {
    if (!failed) {
      const bytes = Buffer.from(setup.shared, m.slot * SLOT_BYTES, m.bytes); // a view, not a copy
      sha.update(bytes);
      try {
        rdb.push(bytes);
      } catch (err) {
        failed = true;
        const e = err as RdbError;
        post({ failed: { code: e instanceof RdbError ? e.code : 'CORRUPT', message: e.message } });
      }
    }
    post({ free: m.slot });
    return;
  }
  let summary;
  try {
    summary = rdb.end();
  } catch (err) {
    summary = { error: (err as Error).message };
  }
  post({ done: { sha256: sha.digest('hex'), rdb: summary, expiries } });
  parentPort!.close();
});
