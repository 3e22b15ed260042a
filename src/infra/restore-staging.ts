// Downloads one stored backup into the target's staging folder (same filesystem as its data, so
// the later rename is atomic) and proves it valid on the way: size, SHA-256, RDB structure and
// CRC64, and an RDB version the target Redis can read. An encrypted backup is decrypted as it
// arrives (every GCM tag checked before its plaintext is written). Decrypting and the checks run
// on threads of their own (staging-thread.ts). A download cut short resumes with a ranged GET
// from the last durable offset (of an encrypted one: the last durable segment boundary); the
// bytes already on disk are re-read to rebuild the hashes.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statfsSync, statSync, writeFileSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import type { LocationName } from '../lib/config';
import { type KeySample, SEGMENT_BYTES, storedBytes } from '../lib/manifest';
import { RdbError } from '../lib/rdb';
import type { ExpiryHistogram, StagedBackup } from '../lib/restore-plan';
import { ErrorType } from '../lib/errors';
import { type BackupStore, ManifestError } from './backup-store';
import { batchedWriter } from './batched-writer';
import { stagingDir } from './data-dir';
import { SegmentError, storedOffsetOfSegment } from './segment-crypto';
import { type StagingResult, StagingThread } from './staging-thread';

/** What the workflow learns about a staged backup (small: no samples, no histogram). */
/** Kept beside the staged file for the verification step (which may run on another worker). */
export interface StagedRecord extends StagedBackup {
  samples: KeySample[];
  expiries: ExpiryHistogram;
}

/** Where an interrupted download stood; travels in heartbeat details. */
export interface DownloadProgress {
  phase: string;
  location: LocationName;
  etag: string;
  /** Bytes written and flushed to disk (plaintext). */
  bytes: number;
  totalBytes: number;
  /** Of an encrypted object: its header's nonce prefix (public), to resume decrypting mid-object. */
  noncePrefix?: string;
}

export const stagedFiles = (dataDir: string, backupId: string) => {
  const dir = stagingDir(dataDir);
  return { dir, rdb: path.join(dir, `${backupId}.rdb`), record: path.join(dir, `${backupId}.json`), partial: (l: LocationName) => path.join(dir, `${backupId}.${l}.partial`) };
};

export function readStagedRecord(dataDir: string, backupId: string): StagedRecord {
  return JSON.parse(readFileSync(stagedFiles(dataDir, backupId).record, 'utf8')) as StagedRecord;
}

export interface StageOptions {
  dataDir: string;
  maxRdbVersion?: number;
  /** Details of the last heartbeat of an earlier attempt, if any. */
  resume?: DownloadProgress;
  /** Called with flushed progress about once a second (the caller heartbeats it). */
  onProgress(p: DownloadProgress): void;
  signal: AbortSignal;
}

export async function stageBackup(store: BackupStore, redis: string, backupId: string, opts: StageOptions): Promise<StagedBackup> {
  const files = stagedFiles(opts.dataDir, backupId);
  const invalid = (why: string) => ApplicationFailure.nonRetryable(`backup ${backupId} in the ${store.name} location is not valid: ${why}`, ErrorType.BackupInvalid);
  const manifest = await store.readManifest(redis, backupId).catch((err: Error) => {
    throw err instanceof ManifestError ? invalid(err.message) : err;
  });
  if (!manifest) throw invalid('manifest missing');
  if (existsSync(files.rdb) && existsSync(files.record)) {
    const done = readStagedRecord(opts.dataDir, backupId);
    if (done.sha256 === manifest.sha256 && statSync(files.rdb).size === done.bytes) return summary(done);
  }
  if (opts.maxRdbVersion !== undefined && manifest.rdbVersion > opts.maxRdbVersion) {
    throw invalid(`RDB version ${manifest.rdbVersion} is newer than the target Redis reads (${opts.maxRdbVersion})`);
  }
  const objectKey = store.keys(redis, backupId).object;
  const head = await store.headObject(objectKey);
  if (!head) throw invalid('snapshot object missing');
  if (head.bytes !== storedBytes(manifest)) throw invalid(`object is ${head.bytes} bytes, the manifest says ${storedBytes(manifest)}`);
  const enc = manifest.encryption;
  const key = enc && store.keyring.key(enc.keyId);
  mkdirSync(files.dir, { recursive: true, mode: 0o700 });
  const partial = files.partial(store.name);
  const prior = opts.resume;
  let resume = prior?.location === store.name && prior.etag === head.etag && existsSync(partial) ? Math.min(prior.bytes, statSync(partial).size) : 0;
  // Ciphertext is read back from a segment boundary, with the nonce prefix the earlier attempt saw.
  if (enc) resume = prior?.noncePrefix ? resume - (resume % SEGMENT_BYTES) : 0;
  const from = key && resume > 0 ? storedOffsetOfSegment(resume / SEGMENT_BYTES) : resume;
  const free = statfsSync(files.dir);
  const need = manifest.bytes - resume;
  if (free.bavail * free.bsize < need) {
    throw ApplicationFailure.nonRetryable(`not enough space in ${files.dir}: the snapshot needs ${need} more bytes, ${free.bavail * free.bsize} are free`, ErrorType.NoSpaceForRestore);
  }

  const out = await open(partial, resume > 0 ? 'r+' : 'w+', 0o600); // read too: the checking thread reads the plaintext back
  let thread: StagingThread | undefined;
  let bytes = resume;
  let checked: StagingResult;
  try {
    await out.truncate(resume);
    // The bytes of an interrupted attempt are read back by the thread to rebuild the hashes.
    const staging = (thread = new StagingThread({
      fd: out.fd,
      resume,
      decrypt: key && { key, backupId, storedBytes: head.bytes, resume: resume > 0 ? { prefix: prior!.noncePrefix!, segment: resume / SEGMENT_BYTES } : undefined },
      maxVersion: opts.maxRdbVersion,
      now: Date.now(),
    }));
    const progress = (): DownloadProgress => ({ phase: `download from ${store.name}`, location: store.name, etag: head.etag, bytes, totalBytes: manifest.bytes, noncePrefix: staging.noncePrefix });
    // Plaintext is written by whoever holds it: the thread writes what it decrypts, this loop what it receives.
    const file = key ? undefined : batchedWriter((bufs, at) => out.writev(bufs, at), resume);
    // A heartbeat only ever claims bytes that are on disk: each one follows a completed flush.
    const flush = durableProgress(out, () => file?.written ?? staging.written, (durable) => {
      bytes = durable;
      opts.onProgress(progress());
    });
    let last = Date.now();
    const body = await store.getObject(objectKey, { from, ifMatch: resume > 0 ? head.etag : undefined });
    const stop = () => body.destroy(new Error('cancelled'));
    opts.signal.addEventListener('abort', stop);
    try {
      for await (const chunk of body as AsyncIterable<Buffer>) {
        await staging.push(chunk);
        await file?.add(chunk);
        if (Date.now() - last >= 1000) {
          flush.checkpoint();
          last = Date.now();
        }
      }
    } finally {
      opts.signal.removeEventListener('abort', stop);
    }
    checked = await staging.end();
    await file?.drain();
    await flush.sync();
  } catch (err) {
    if (err instanceof RdbError || err instanceof SegmentError) {
      rmSync(partial, { force: true });
      throw invalid(err.message);
    }
    throw err;
  } finally {
    await thread?.close(); // before the descriptor it reads and writes through is closed
    await out.close();
  }

  const problems: string[] = [];
  const rdbSummary = 'error' in checked.rdb ? undefined : checked.rdb;
  if ('error' in checked.rdb) problems.push(checked.rdb.error);
  else if (manifest.crc64 !== 'disabled' && checked.rdb.crc64 !== manifest.crc64) problems.push(`CRC64 ${checked.rdb.crc64}, the manifest says ${manifest.crc64}`);
  if (bytes !== manifest.bytes) problems.push(`${bytes} bytes, the manifest says ${manifest.bytes}`);
  if (checked.sha256 !== manifest.sha256) problems.push(`sha256 ${checked.sha256}, the manifest says ${manifest.sha256}`);
  if (problems.length > 0 || !rdbSummary) {
    rmSync(partial, { force: true });
    throw invalid(problems.join('; '));
  }
  const record: StagedRecord = {
    backupId,
    location: store.name,
    bytes,
    sha256: checked.sha256,
    rdbVersion: rdbSummary.rdbVersion,
    createdAt: manifest.createdAt,
    keyCounts: rdbSummary.keyCounts,
    resumedAt: resume,
    samples: manifest.samples ?? [],
    expiries: checked.expiries,
  };
  writeFileSync(`${files.record}.tmp`, JSON.stringify(record));
  renameSync(partial, files.rdb);
  renameSync(`${files.record}.tmp`, files.record);
  return summary(record);
}

/**
 * Flushes what is written about once a second without waiting for it (an awaited flush stalled
 * the download for as long as the disk took); onDurable hears of each completed flush, with the
 * bytes written before it started.
 */
function durableProgress(out: FileHandle, written: () => number, onDurable: (bytes: number) => void) {
  let flushing: Promise<void> | undefined;
  const flush = async () => {
    const at = written();
    await out.datasync();
    onDurable(at);
  };
  return {
    checkpoint(): void {
      flushing ??= flush().catch(() => undefined).finally(() => (flushing = undefined)); // sync() reports failures
    },
    /** Flushes everything written. */
    async sync(): Promise<void> {
      await flushing;
      await flush();
    },
  };
}

function summary(r: StagedRecord): StagedBackup {
  const { samples: _s, expiries: _e, ...rest } = r;
  return rest;
}
