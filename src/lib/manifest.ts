// The backup manifest: written beside the snapshot object only once the object is complete and
// verified. No manifest means no valid backup. Pure, so workflows may import the types.
import { z } from 'zod';

export const MANIFEST_FORMAT = 'titan-backup/1';
/** Client-side encryption of the snapshot object (src/infra/segment-crypto.ts). */
export const ENCRYPTION_FORMAT = 'stream-aes-256-gcm/1';
/** Plaintext bytes per encrypted segment. */
export const SEGMENT_BYTES = 1024 * 1024;

const dbCounts = z.record(z.string().regex(/^\d+$/), z.strictObject({ keys: z.number().int().min(0), expires: z.number().int().min(0) }));

/** A key picked at random while the snapshot streamed, to check values after a restore. */
export const keySampleSchema = z.strictObject({
  db: z.number().int().min(0),
  /** The key name, base64 (names are binary-safe). */
  key: z.string(),
  /** Redis TYPE name: string, list, set, zset, hash, stream, module. */
  type: z.string(),
  expireAtMs: z.number().int().optional(),
  /** SHA-256 of the value, for strings up to the sampler's size limit. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
});
export type KeySample = z.infer<typeof keySampleSchema>;

export const manifestSchema = z.strictObject({
  format: z.literal(MANIFEST_FORMAT),
  id: z.string().min(1),
  /** The instance the snapshot was streamed from. */
  source: z.strictObject({ redis: z.string(), address: z.string() }),
  /** When the source is a replica: the primary it replicated, whose backup this is (restores target it). */
  primary: z.strictObject({ redis: z.string(), address: z.string() }).optional(),
  redisVersion: z.string(),
  rdbVersion: z.number().int(),
  bytes: z.number().int().min(0),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** Hex of the RDB's trailing CRC64, or "disabled" when Redis wrote a zero checksum. */
  crc64: z.string().regex(/^([0-9a-f]{16}|disabled)$/),
  /** Keys per database counted in the RDB stream itself (absent when a module type stopped parsing). */
  keyCounts: dbCounts.optional(),
  /** Keys per database from INFO keyspace just before the snapshot began. */
  keyspaceAtSnapshot: dbCounts,
  createdAt: z.iso.datetime(),
  retentionClass: z.enum(['hourly', 'daily']),
  /** The multipart ETag S3 reported for the object, checked against the one computed while streaming. */
  etag: z.string(),
  workflowId: z.string(),
  /** Absent in backups taken before sampling existed; restores then check counts and a probe only. */
  samples: z.array(keySampleSchema).optional(),
  /**
   * Absent in plaintext backups (taken before encryption, or without backups.encryption). `bytes`,
   * `sha256` and `crc64` describe the plaintext; the object holds `storedBytes` of ciphertext.
   */
  encryption: z.strictObject({
    format: z.literal(ENCRYPTION_FORMAT),
    keyId: z.string().min(1),
    storedBytes: z.number().int().min(0),
  }).optional(),
});
export type BackupManifest = z.infer<typeof manifestSchema>;
/** Size of the stored object: the ciphertext's when encrypted. */
export const storedBytes = (m: BackupManifest): number => m.encryption?.storedBytes ?? m.bytes;
export type RetentionClass = BackupManifest['retentionClass'];
export type DbCounts = BackupManifest['keyCounts'];

/** Backup ids sort by creation time: <redis>-<UTC yyyymmddThhmmssZ>-<8 hex>. */
export function newBackupId(redis: string, at: Date, random8hex: string): string {
  const stamp = at.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${redis}-${stamp}-${random8hex}`;
}

export function backupKeys(prefix: string, redis: string, id: string) {
  const dir = `${prefix}${redis}/${id}/`;
  return { dir, object: `${dir}dump.rdb`, manifest: `${dir}manifest.json` };
}

/** Parses INFO keyspace lines ("db0:keys=3,expires=1,avg_ttl=0") into per-db counts. */
export function parseKeyspace(info: string): NonNullable<DbCounts> {
  const out: NonNullable<DbCounts> = {};
  for (const m of info.matchAll(/^db(\d+):keys=(\d+),expires=(\d+)/gm)) {
    out[m[1]!] = { keys: Number(m[2]), expires: Number(m[3]) };
  }
  return out;
}
