// Streams a stored backup and checks it against its manifest: size, SHA-256, and the RDB's own
// structure and CRC64 (of the plaintext), and for an encrypted backup every segment's GCM tag.
// This is what "valid backup" means for listing, restore and drills.
import { createHash } from 'node:crypto';
import { RdbVerifier } from '../lib/rdb';
import { storedBytes } from '../lib/manifest';
import type { BackupStore, ObjectLock } from './backup-store';
import { SegmentDecryptor, SegmentError } from './segment-crypto';

export interface Verdict {
  id: string;
  location: string;
  valid: boolean;
  /** The backup's key is not configured here: it cannot be checked, which is not corruption. */
  unreadable?: boolean;
  /** The encryption key id, absent for a plaintext backup. */
  keyId?: string;
  problems: string[];
  bytes: number;
  /** In a locked location: the backup's lock, or why it lacks the one required (valid says nothing about it). */
  lock?: ObjectLock;
  lockProblem?: string;
}

export async function verifyStoredBackup(store: BackupStore, redis: string, id: string, onBytes?: (bytes: number, total: number) => void): Promise<Verdict> {
  const verdict: Verdict = { id, location: store.name, valid: false, problems: [], bytes: 0 };
  let manifest;
  try {
    manifest = await store.readManifest(redis, id);
  } catch (err) {
    verdict.problems.push((err as Error).message);
    return verdict;
  }
  if (!manifest) {
    verdict.problems.push('manifest missing');
    return verdict;
  }
  const enc = manifest.encryption;
  verdict.keyId = enc?.keyId;
  const keyProblem = enc && store.keyring.problem(enc.keyId);
  if (keyProblem) {
    verdict.problems.push(keyProblem);
    verdict.unreadable = true;
    return verdict;
  }
  const head = await store.headObject(store.keys(redis, id).object);
  if (!head) {
    verdict.problems.push('snapshot object missing');
    return verdict;
  }
  Object.assign(verdict, await store.lockStatus(redis, id));
  if (head.bytes !== storedBytes(manifest)) verdict.problems.push(`object is ${head.bytes} bytes, the manifest says ${storedBytes(manifest)}`);
  const sha = createHash('sha256');
  const rdb = new RdbVerifier();
  const feed = (plain: Buffer) => {
    sha.update(plain);
    verdict.bytes += plain.length;
    rdb.push(plain);
  };
  try {
    // Told the object's size, the decryptor opens the last segment as the last from its first byte.
    const decrypt = enc && new SegmentDecryptor(store.keyring.key(enc.keyId), id, head.bytes);
    for await (const chunk of await store.getObject(store.keys(redis, id).object)) {
      for (const p of decrypt ? decrypt.push(chunk as Buffer) : [chunk as Buffer]) feed(p);
      onBytes?.(verdict.bytes, manifest.bytes);
    }
    decrypt?.end();
    const summary = rdb.end();
    if (manifest.crc64 !== 'disabled' && summary.crc64 !== manifest.crc64) verdict.problems.push(`CRC64 ${summary.crc64} differs from the manifest's ${manifest.crc64}`);
  } catch (err) {
    verdict.problems.push(`${err instanceof SegmentError ? '' : 'RDB check failed: '}${(err as Error).message}`);
  }
  if (verdict.bytes !== manifest.bytes) verdict.problems.push(`size ${verdict.bytes} differs from the manifest's ${manifest.bytes}`);
  const digest = sha.digest('hex');
  if (digest !== manifest.sha256) verdict.problems.push(`sha256 ${digest} differs from the manifest's ${manifest.sha256}`);
  verdict.valid = verdict.problems.length === 0;
  return verdict;
}
