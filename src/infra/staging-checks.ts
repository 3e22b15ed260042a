// The checks a staged download's plaintext goes through, on whichever staging thread runs them:
// its SHA-256, the RDB walk with its CRC64, and the expiry histogram.
import { createHash } from 'node:crypto';
import { readSync } from 'node:fs';
import { RdbError, RdbVerifier } from '../lib/rdb';
import { newExpiryHistogram, recordExpiry } from '../lib/restore-plan';
import { SegmentError } from './segment-crypto';
import { type StagingMessage, type StagingResult, type StagingSetup, SLOT_BYTES } from './staging-thread';

export function stagingChecks(setup: Pick<StagingSetup, 'maxVersion' | 'now'>) {
  const sha = createHash('sha256');
  const expiries = newExpiryHistogram(setup.now);
  const rdb = new RdbVerifier({ maxVersion: setup.maxVersion, onExpire: (db, at) => recordExpiry(expiries, db, at) });
  let buf: Buffer | undefined;
  const check = (plain: Uint8Array): void => {
    sha.update(plain);
    rdb.push(plain);
  };
  return {
    check,
    /** Reads the staging file's bytes [from, to) back (from the page cache) and checks them; `what` says what `to` is. */
    checkFile(fd: number, from: number, to: number, what: string): void {
      buf ??= Buffer.allocUnsafe(SLOT_BYTES);
      for (let at = from; at < to;) {
        const n = readSync(fd, buf, 0, Math.min(SLOT_BYTES, to - at), at);
        if (n === 0) throw new Error(`the staged file ends at ${at} bytes, before the ${to} ${what}`);
        check(buf.subarray(0, n));
        at += n;
      }
    },
    /** The results; an RDB that does not end as one must is a problem reported, not thrown. */
    result(written: number): StagingResult {
      let summary;
      try {
        summary = rdb.end();
      } catch (err) {
        summary = { error: (err as Error).message };
      }
      return { sha256: sha.digest('hex'), rdb: summary, expiries, written };
    },
  };
}

/** How a thread reports the error that stopped it (errors do not cross threads as themselves). */
export function failedMessage(err: unknown): StagingMessage {
  const e = err as Error;
  const kind = e instanceof RdbError ? 'rdb' : e instanceof SegmentError ? 'segment' : 'io';
  return { failed: { kind, code: e instanceof RdbError ? e.code : undefined, message: e.message } };
}
