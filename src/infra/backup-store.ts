// One backup location (an S3 bucket + prefix): listing, manifests, multipart uploads and their
// cleanup. Shared by the backup activities and the CLI; S3 errors that retrying cannot fix are
// turned into named non-retryable failures here, once.
import {
  AbortMultipartUploadCommand, DeleteObjectCommand, GetObjectCommand, GetObjectLockConfigurationCommand, GetObjectRetentionCommand,
  HeadBucketCommand, HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, ListObjectVersionsCommand,
  PutObjectCommand, S3Client, S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { ApplicationFailure } from '@temporalio/common';
import type { Readable } from 'node:stream';
import type { LocationName, S3Location } from '../lib/config';
import { backupKeys, type BackupManifest, manifestSchema, storedBytes } from '../lib/manifest';
import { ErrorType } from '../lib/errors';
import { Keyring } from './backup-keys';

// The pinned SDK supports Node 20 (this machine's); its notice about future releases needing
// Node 22 would otherwise break the CLI's one-line errors (see docs/known-limits.md).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** An S3 Object Lock retention: no one can delete or replace this object version before `until`. */
export interface ObjectLock {
  mode: string;
  until: Date;
}

export interface StoredEntry {
  id: string;
  manifest?: BackupManifest;
  /** Why this is not a valid backup by the cheap checks (manifest readable, object of its size); undefined when it is. */
  problem?: string;
  objectBytes?: number;
  lastModified?: Date;
  /** In a locked location: the lock on the snapshot and manifest (the earlier until of the two)… */
  lock?: ObjectLock;
  /** …or why the backup is not locked as the location requires. */
  lockProblem?: string;
  /** The problem is a missing encryption key: the backup may be intact but cannot be read here. */
  unreadable?: boolean;
}

export class BackupStore {
  readonly client: S3Client;
  constructor(
    readonly name: LocationName,
    readonly location: S3Location,
    credentials: { accessKeyId: string; secretAccessKey: string },
    /** The snapshot keys by id; without backups.encryption, backups are stored in plaintext. */
    readonly keyring: Keyring = new Keyring(undefined, () => ''),
  ) {
    this.client = new S3Client({
      endpoint: location.endpoint,
      region: location.region,
      forcePathStyle: true,
      credentials,
      // Checksums only where S3 requires them: we verify content ourselves (sha256, CRC64, ETag),
      // and the SDK's default CRC32 of every part would cost CPU on the hot path.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: 2,
    });
  }

  get bucket() {
    return this.location.bucket;
  }

  keys(redis: string, id: string) {
    return backupKeys(this.location.prefix, redis, id);
  }

  /** Fails non-retryably when the bucket does not exist or the credentials are refused. */
  async checkBucket(): Promise<void> {
    await this.call(() => this.client.send(new HeadBucketCommand({ Bucket: this.bucket })), true);
    if (!this.location.objectLock) return;
    // Lock headers on a bucket without Object Lock are refused at the first PUT: say so before any snapshot.
    const conf = await this.call(() => this.client.send(new GetObjectLockConfigurationCommand({ Bucket: this.bucket }))).catch(() => undefined);
    if (conf?.ObjectLockConfiguration?.ObjectLockEnabled !== 'Enabled') {
      throw ApplicationFailure.nonRetryable(`${this.where()}: objectLock is configured but the bucket does not have Object Lock enabled (enable bucket versioning, then Object Lock, or remove objectLock)`, ErrorType.ConfigInvalid);
    }
  }

  /** The lock headers for an object retained until `until`; none when this location is not locked. */
  lockParams(until?: Date) {
    const mode = this.location.objectLock?.mode;
    return mode && until ? { ObjectLockMode: mode, ObjectLockRetainUntilDate: until } : {};
  }

  /** Aborts multipart uploads under a key prefix, optionally only those started before a time. */
  async abortUploads(prefix: string, startedBefore?: Date): Promise<string[]> {
    const aborted: string[] = [];
    const res = await this.call(() => this.client.send(new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: prefix })));
    for (const u of res.Uploads ?? []) {
      if (!u.Key || !u.UploadId || (startedBefore && u.Initiated && u.Initiated >= startedBefore)) continue;
      await this.call(() => this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: u.Key, UploadId: u.UploadId })));
      aborted.push(u.Key);
    }
    return aborted;
  }

  /** For small streams (log spools); backups go through PartUpload. `retainUntil` locks the object in a locked location. */
  newUpload(key: string, body: Readable, partSize: number, queueSize: number, retainUntil?: Date): Upload {
    return new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: key, Body: body, ContentType: 'application/octet-stream', ...this.lockParams(retainUntil) },
      partSize,
      queueSize,
      leavePartsOnError: false,
    });
  }

  /** `crc32`: the S3 additional checksum stored with the object (composite "…-N" when multipart), if any. */
  async headObject(key: string): Promise<{ bytes: number; etag: string; crc32?: string; lock?: ObjectLock } | undefined> {
    try {
      const h = await this.call(() => this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key, ChecksumMode: 'ENABLED' })));
      const lock = h.ObjectLockMode && h.ObjectLockRetainUntilDate ? { mode: h.ObjectLockMode, until: h.ObjectLockRetainUntilDate } : undefined;
      return { bytes: h.ContentLength ?? 0, etag: (h.ETag ?? '').replace(/"/g, ''), ...(h.ChecksumCRC32 && { crc32: h.ChecksumCRC32 }), ...(lock && { lock }) };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** The object's bytes from `from` on; `ifMatch` makes S3 refuse if the object changed since. */
  async getObject(key: string, range: { from?: number; ifMatch?: string } = {}): Promise<Readable> {
    const res = await this.call(() => this.client.send(new GetObjectCommand({
      Bucket: this.bucket,
      Key: key,
      Range: range.from ? `bytes=${range.from}-` : undefined,
      IfMatch: range.ifMatch ? `"${range.ifMatch}"` : undefined,
    })));
    return res.Body as Readable;
  }

  async putManifest(redis: string, m: BackupManifest, retainUntil?: Date): Promise<void> {
    const key = this.keys(redis, m.id).manifest;
    await this.call(() => this.client.send(new PutObjectCommand({
      Bucket: this.bucket, Key: key, Body: JSON.stringify(m, null, 2), ContentType: 'application/json', ...this.lockParams(retainUntil),
    })));
  }

  /**
   * In a locked location: the current snapshot and manifest versions' lock, or why they lack the
   * one the location requires (never locked, another mode, or replaced by an unlocked version).
   */
  async lockStatus(redis: string, id: string): Promise<Pick<StoredEntry, 'lock' | 'lockProblem'>> {
    const mode = this.location.objectLock?.mode;
    if (!mode) return {};
    const k = this.keys(redis, id);
    const [object, manifest] = await Promise.all([this.headObject(k.object), this.headObject(k.manifest)]);
    const missing = [object && !object.lock && 'snapshot', manifest && !manifest.lock && 'manifest'].filter(Boolean);
    if (missing.length) return { lockProblem: `${missing.join(' and ')} not locked (the location requires ${mode})` };
    const locks = [object?.lock, manifest?.lock].filter((l): l is ObjectLock => !!l);
    if (locks.length === 0) return {};
    const lock = locks.reduce((a, b) => (b.until < a.until ? b : a));
    return { lock, ...(locks.some((l) => l.mode !== mode) && { lockProblem: `locked ${locks.map((l) => l.mode).join('/')}, the location requires ${mode}` }) };
  }

  /** The manifest of a backup, undefined when absent; throws when present but unreadable. */
  async readManifest(redis: string, id: string): Promise<BackupManifest | undefined> {
    const text = await this.readText(this.keys(redis, id).manifest);
    return text === undefined ? undefined : parseManifest(text, id);
  }

  /** Every backup id under this Redis's prefix, with its manifest (if valid) and object size. */
  async list(redis: string): Promise<StoredEntry[]> {
    const dir = `${this.location.prefix}${redis}/`;
    const entries = new Map<string, StoredEntry>();
    const manifestKeys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.call(() => this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: dir, ContinuationToken: token })));
      for (const o of page.Contents ?? []) {
        const [id, file] = (o.Key ?? '').slice(dir.length).split('/');
        if (!id || !file) continue;
        const e = entries.get(id) ?? { id };
        if (file === 'dump.rdb') Object.assign(e, { objectBytes: o.Size ?? 0, lastModified: o.LastModified });
        if (file === 'manifest.json') manifestKeys.push(id);
        if (!e.lastModified) e.lastModified = o.LastModified;
        entries.set(id, e);
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    await Promise.all(manifestKeys.map(async (id) => {
      const e = entries.get(id)!;
      try {
        e.manifest = await this.readManifest(redis, id);
      } catch (err) {
        e.problem = (err as Error).message;
      }
    }));
    for (const e of entries.values()) {
      e.problem ??= !e.manifest ? 'no manifest'
        : e.objectBytes === undefined ? 'snapshot object missing'
        : e.objectBytes !== storedBytes(e.manifest) ? 'object size differs from manifest' : undefined;
      const keyProblem = !e.problem && e.manifest?.encryption && this.keyring.problem(e.manifest.encryption.keyId);
      if (keyProblem) Object.assign(e, { problem: keyProblem, unreadable: true });
    }
    if (this.location.objectLock) await Promise.all([...entries.values()].map(async (e) => Object.assign(e, await this.lockStatus(redis, e.id))));
    return [...entries.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  /** Writes a small text object (reports): one PUT, so readers see the old or the new one, never a mix. */
  async putText(key: string, text: string, contentType: string): Promise<void> {
    await this.call(() => this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: text, ContentType: contentType })));
  }

  /** A small text object, undefined when absent. */
  async readText(key: string): Promise<string | undefined> {
    try {
      const res = await this.call(() => this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key })));
      return await res.Body!.transformToString();
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async deleteKey(key: string): Promise<void> {
    await this.call(() => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key })));
  }

  /** Keys under a prefix, newest first. */
  async listKeys(prefix: string): Promise<{ key: string; lastModified?: Date }[]> {
    const out: { key: string; lastModified?: Date }[] = [];
    let token: string | undefined;
    do {
      const page = await this.call(() => this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token })));
      out.push(...(page.Contents ?? []).map((o) => ({ key: o.Key!, lastModified: o.LastModified })));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out.sort((a, b) => (b.lastModified?.getTime() ?? 0) - (a.lastModified?.getTime() ?? 0));
  }

  /**
   * Deletes the manifest first, so a crash half-way leaves an orphan object, never a false valid
   * backup. In a locked location every version goes (a plain delete would only add a marker to
   * the versioned bucket), and nothing is deleted while any version is still locked: `lockedUntil`
   * then says until when.
   */
  async deleteBackup(redis: string, id: string, now = new Date()): Promise<{ lockedUntil?: Date }> {
    const k = this.keys(redis, id);
    if (!this.location.objectLock) {
      await this.call(() => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: k.manifest })));
      await this.call(() => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: k.object })));
      return {};
    }
    const versions = (await this.versions(k.dir)).sort((a, b) => Number(b.key === k.manifest) - Number(a.key === k.manifest));
    const until = (await Promise.all(versions.map((v) => (v.deleteMarker ? undefined : this.retainUntilOf(v.key, v.versionId))))).filter((d): d is Date => !!d && d > now);
    if (until.length) return { lockedUntil: until.reduce((a, b) => (b > a ? b : a)) };
    for (const v of versions) {
      try {
        await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: v.key, VersionId: v.versionId }));
      } catch (err) {
        // Our clock may run ahead of the store's: its refusal of a version still locked is not a failure.
        const lockedUntil = err instanceof S3ServiceException && err.$metadata.httpStatusCode === 403 ? await this.retainUntilOf(v.key, v.versionId) : undefined;
        if (lockedUntil) return { lockedUntil };
        throw this.explain(err, false);
      }
    }
    return {};
  }

  /** Every version and delete marker under a key prefix. */
  async versions(prefix: string): Promise<{ key: string; versionId: string; deleteMarker: boolean }[]> {
    const out: { key: string; versionId: string; deleteMarker: boolean }[] = [];
    let keyMarker: string | undefined;
    let versionIdMarker: string | undefined;
    do {
      const page = await this.call(() => this.client.send(new ListObjectVersionsCommand({ Bucket: this.bucket, Prefix: prefix, KeyMarker: keyMarker, VersionIdMarker: versionIdMarker })));
      for (const v of page.Versions ?? []) out.push({ key: v.Key!, versionId: v.VersionId!, deleteMarker: false });
      for (const m of page.DeleteMarkers ?? []) out.push({ key: m.Key!, versionId: m.VersionId!, deleteMarker: true });
      [keyMarker, versionIdMarker] = page.IsTruncated ? [page.NextKeyMarker, page.NextVersionIdMarker] : [undefined, undefined];
    } while (keyMarker);
    return out;
  }

  /** A version's retain-until date; undefined when it has no retention. */
  private async retainUntilOf(key: string, versionId: string): Promise<Date | undefined> {
    try {
      const r = await this.client.send(new GetObjectRetentionCommand({ Bucket: this.bucket, Key: key, VersionId: versionId }));
      return r.Retention?.RetainUntilDate;
    } catch (err) {
      // No retention on this version (SeaweedFS answers 404 ObjectLockConfigurationNotFoundError), or a delete marker.
      if (err instanceof S3ServiceException && [404, 405].includes(err.$metadata.httpStatusCode ?? 0)) return undefined;
      throw this.explain(err, false);
    }
  }

  /** Runs one S3 call, naming the location and bucket in failures retrying cannot fix. */
  private async call<T>(send: () => Promise<T>, headBucket = false): Promise<T> {
    try {
      return await send();
    } catch (err) {
      throw this.explain(err, headBucket);
    }
  }

  private where() {
    return `${this.name} backup location ${this.location.endpoint}/${this.bucket}`;
  }

  private explain(err: unknown, headBucket: boolean): unknown {
    if (!(err instanceof S3ServiceException)) return err;
    const where = this.where();
    // HEAD responses carry no error code, so a 404 on HeadBucket is the only sign of a missing bucket.
    if (err.name === 'NoSuchBucket' || (headBucket && err.$metadata.httpStatusCode === 404)) {
      return ApplicationFailure.nonRetryable(`${where}: bucket does not exist`, ErrorType.BucketMissing);
    }
    if (['AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'Forbidden'].includes(err.name) || err.$metadata.httpStatusCode === 403) {
      return ApplicationFailure.nonRetryable(`${where}: access denied (${err.name}); check the credentials`, ErrorType.S3AccessDenied);
    }
    return err;
  }
}

function isNotFound(err: unknown): boolean {
  return err instanceof S3ServiceException && (err.name === 'NoSuchKey' || err.name === 'NotFound') && err.$metadata.httpStatusCode === 404;
}

/** A manifest that exists but cannot be trusted: the backup is invalid, retrying will not help. */
export class ManifestError extends Error {
  override name = 'ManifestError';
}

export function parseManifest(text: string, id: string): BackupManifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ManifestError(`manifest of ${id} is not JSON`);
  }
  const r = manifestSchema.safeParse(json);
  if (!r.success) throw new ManifestError(`manifest of ${id} is malformed: ${r.error.issues[0]!.path.join('.')}: ${r.error.issues[0]!.message}`);
  if (r.data.id !== id) throw new ManifestError(`manifest of ${id} names another backup (${r.data.id})`);
  return r.data;
}
