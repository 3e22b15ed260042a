// Activities of the redisBackup workflow. Each is idempotent: it checks for finished work before
// acting, cleans up what a crashed attempt left, and never leaves a manifest beside an object that
// was not fully verified.
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { decideRetention, type RetentionDecision, retainUntil } from '../lib/retention';
import { type BackupManifest, ENCRYPTION_FORMAT, MANIFEST_FORMAT, parseKeyspace, type RetentionClass, storedBytes } from '../lib/manifest';
import type { LocationName } from '../lib/config';
import { RdbError, type RdbVerifierOptions } from '../lib/rdb';
import { ErrorType } from '../lib/errors';
import { replicaProblem } from '../lib/replication';
import type { BackupStore } from '../infra/backup-store';
import type { Deps } from '../deps';
import { KeySampler } from '../infra/key-sampler';
import { openRdbSync } from '../infra/redis-sync';
import { SegmentError } from '../infra/segment-crypto';
import { type UploadOptions, uploadVerified } from '../infra/verified-upload';

export interface SnapshotRequest {
  /** The instance backed up (backups are stored and restored under its name). */
  redis: string;
  /** A replica of `redis` to stream the snapshot from, so `redis` never forks. */
  from?: string;
  backupId: string;
  retentionClass: RetentionClass;
}

export interface RetentionReport {
  location: LocationName;
  deleted: RetentionDecision[];
  /** Expired by the policy but still under Object Lock (e.g. a retention shortened since): kept, with the date. */
  locked: (RetentionDecision & { until: string })[];
  kept: number;
  abortedUploads: number;
}

/** Heartbeats transferred bytes at most once a second, so the UI and CLI can show progress. */
function progressHeartbeat(phase: string, totalBytes?: number) {
  let last = 0;
  return (bytes: number) => {
    const now = Date.now();
    if (now - last < 1000) return;
    last = now;
    Context.current().heartbeat({ phase, bytes, totalBytes });
  };
}

export function createRedisBackupActivities(deps: Pick<Deps, 'redis' | 'store' | 'allStores' | 'partSize' | 'queueSize' | 'retention' | 'metrics'>) {
  /** Streams a source into a location with the configured part size and progress heartbeats. */
  const transfer = (source: AsyncIterable<Buffer>, store: BackupStore, key: string, phase: string, lockUntil: Date, totalBytes?: number, verifier?: RdbVerifierOptions, crypt?: UploadOptions['crypt']) =>
    uploadVerified(source, store, key, {
      retainUntil: lockUntil,
      partSize: deps.partSize,
      queueSize: deps.queueSize,
      onBytes: progressHeartbeat(phase, totalBytes),
      signal: Context.current().cancellationSignal,
      verifier,
      crypt,
    });

  return {
    /** Fails fast, before any snapshot is taken, when a location's bucket is missing or refused. */
    async checkBackupLocations(): Promise<LocationName[]> {
      // A network error alone ("connect ECONNREFUSED …") does not say which location; retries show this message.
      await Promise.all(deps.allStores.map((s) => s.checkBucket().catch((err: unknown) => {
        throw err instanceof ApplicationFailure ? err : new Error(`${s.name} location unreachable: ${(err as Error).message}`);
      })));
      return deps.allStores.map((s) => s.name);
    },

    /** Streams a snapshot from the live Redis into the primary location, then writes its manifest. */
    async snapshotToPrimary(req: SnapshotRequest): Promise<BackupManifest> {
      const store = deps.store('primary');
      const keys = store.keys(req.redis, req.backupId);
      const done = await store.readManifest(req.redis, req.backupId);
      if (done) return done;
      await store.abortUploads(keys.object);

      const endpoint = deps.redis(req.from ?? req.redis);
      const primary = req.from === undefined ? undefined : { redis: req.redis, address: deps.redis(req.redis).address };
      const ctx = Context.current();
      const startedAt = new Date();
      const sync = await openRdbSync(endpoint, {
        onKeepAlive: () => ctx.heartbeat({ phase: 'redis preparing snapshot', bytes: 0 }),
        // Refused before SYNC, so a Redis that is not a live replica of the primary never forks for us.
        beforeSync: (info) => {
          const problem = primary && replicaProblem(info.replication, req.from!, { name: primary.redis, address: primary.address });
          if (problem) throw problem.retryable ? new Error(problem.message) : ApplicationFailure.nonRetryable(problem.message, ErrorType.ConfigInvalid);
        },
      });
      const stop = () => sync.close();
      ctx.cancellationSignal.addEventListener('abort', stop);
      const sampler = new KeySampler();
      // In a locked location the snapshot and its manifest cannot be deleted before the backup expires.
      const lockUntil = retainUntil(startedAt, req.retentionClass, deps.retention);
      // Encrypted before it leaves the worker; the key is resolved here and never leaves it.
      const keyId = store.keyring.current;
      const crypt = keyId === undefined ? undefined : { mode: 'encrypt' as const, key: store.keyring.key(keyId), backupId: req.backupId };
      try {
        const up = await transfer(sync.payload, store, keys.object, 'snapshot to primary', lockUntil, sync.declaredBytes, sampler.hooks(), crypt).catch((err: unknown) => {
          // A snapshot this Redis cannot produce readably (format, version) will not improve on retry.
          if (err instanceof RdbError && ['BAD_MAGIC', 'UNSUPPORTED_VERSION', 'EMPTY'].includes(err.code)) {
            throw ApplicationFailure.nonRetryable(`snapshot of Redis ${req.redis} rejected: ${err.message}`, ErrorType.CorruptSnapshot);
          }
          throw err;
        });
        const manifest: BackupManifest = {
          format: MANIFEST_FORMAT,
          id: req.backupId,
          source: { redis: req.from ?? req.redis, address: endpoint.address },
          ...(primary && { primary }),
          redisVersion: /^redis_version:(.+)$/m.exec(sync.info.server)?.[1]?.trim() ?? up.rdb.aux['redis-ver'] ?? 'unknown',
          rdbVersion: up.rdb.rdbVersion,
          bytes: up.bytes,
          sha256: up.sha256,
          crc64: up.rdb.checksum === 'ok' ? up.rdb.crc64 : 'disabled',
          keyCounts: up.rdb.keyCounts,
          keyspaceAtSnapshot: parseKeyspace(sync.info.keyspace),
          createdAt: startedAt.toISOString(),
          retentionClass: req.retentionClass,
          etag: up.etag,
          workflowId: ctx.info.workflowExecution?.workflowId ?? 'none',
          samples: sampler.samples(),
          ...(keyId !== undefined && { encryption: { format: ENCRYPTION_FORMAT, keyId, storedBytes: up.storedBytes } }),
        };
        await store.putManifest(req.redis, manifest, lockUntil);
        return manifest;
      } finally {
        ctx.cancellationSignal.removeEventListener('abort', stop);
        sync.close();
      }
    },

    /** Copies a verified backup to the off-site location, re-checking every byte on the way. */
    async copyBackupOffsite(req: { redis: string; backupId: string }): Promise<BackupManifest> {
      const primary = deps.store('primary');
      const offsite = deps.store('offsite');
      const manifest = await primary.readManifest(req.redis, req.backupId);
      if (!manifest) throw ApplicationFailure.nonRetryable(`backup ${req.backupId} has no manifest in the primary location`, ErrorType.BackupNotFound);
      const existing = await offsite.readManifest(req.redis, req.backupId);
      if (existing?.sha256 === manifest.sha256) return existing;
      const keys = offsite.keys(req.redis, req.backupId);
      await offsite.abortUploads(keys.object);

      const source = await primary.getObject(primary.keys(req.redis, req.backupId).object);
      const invalid = (why: string) => ApplicationFailure.nonRetryable(`primary copy of ${req.backupId} is not valid: ${why}`, ErrorType.BackupInvalid);
      const lockUntil = retainUntil(new Date(manifest.createdAt), manifest.retentionClass, deps.retention);
      // The ciphertext is copied as is, and proven by decrypting it and checking the plaintext.
      const enc = manifest.encryption;
      let up;
      try {
        const crypt = enc && { mode: 'decrypt' as const, key: primary.keyring.key(enc.keyId), backupId: req.backupId, storedBytes: enc.storedBytes };
        up = await transfer(source, offsite, keys.object, 'copy to off-site', lockUntil, manifest.bytes, undefined, crypt);
      } catch (err) {
        // Stored bytes that fail the RDB or GCM checks will fail them again: do not retry.
        throw err instanceof RdbError || err instanceof SegmentError ? invalid(err.message) : err;
      } finally {
        source.destroy();
      }
      if (up.bytes !== manifest.bytes || up.sha256 !== manifest.sha256 || up.storedBytes !== storedBytes(manifest)) {
        await offsite.deleteBackup(req.redis, req.backupId);
        throw invalid(`${up.bytes} bytes, sha256 ${up.sha256}; the manifest says ${manifest.bytes} bytes, sha256 ${manifest.sha256}`);
      }
      const copy = { ...manifest, etag: up.etag };
      await offsite.putManifest(req.redis, copy, lockUntil);
      return copy;
    },

    /** Deletes expired backups of one location per the tiered policy; never the newest valid one. */
    async applyRetention(req: { redis: string; location: LocationName }): Promise<RetentionReport> {
      const store = deps.store(req.location);
      const now = new Date();
      const entries = await store.list(req.redis);
      const plan = decideRetention(
        entries.map((e) => ({
          id: e.id,
          createdAt: e.manifest ? new Date(e.manifest.createdAt) : e.lastModified ?? now,
          retentionClass: e.problem ? undefined : e.manifest!.retentionClass,
        })),
        deps.retention,
        now,
      );
      const deleted: RetentionDecision[] = [];
      const locked: RetentionReport['locked'] = [];
      for (const d of plan.delete) {
        const { lockedUntil } = await store.deleteBackup(req.redis, d.id, now);
        if (lockedUntil) locked.push({ ...d, until: lockedUntil.toISOString(), reason: `${d.reason}, but locked until ${lockedUntil.toISOString()}` });
        else deleted.push(d);
        Context.current().heartbeat({ phase: 'retention', deleted: d.id });
      }
      const graceStart = new Date(now.getTime() - deps.retention.orphanGraceHours * 3_600_000);
      const aborted = await store.abortUploads(`${store.location.prefix}${req.redis}/`, graceStart);
      // The last step of every backup: the age metric then shows the backup just stored.
      if (req.location === 'primary') await deps.metrics.refreshBackupAge(req.redis);
      return { location: req.location, deleted, locked, kept: plan.keep.length + locked.length, abortedUploads: aborted.length };
    },
  };
}
