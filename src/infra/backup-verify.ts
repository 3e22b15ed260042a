// Streams a stored backup and checks it against its manifest: size, SHA-256, and the RDB's own
// structure and CRC64. This is what "valid backup" means for listing, restore and drills.
import { createHash } from 'node:crypto';
import { RdbVerifier } from '../lib/rdb';
import type { BackupStore, ObjectLock } from './backup-store';

export interface Verdict {
  id: string;
  location: string;
  valid: boolean;
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
  const head = await store.headObject(store.keys(redis, id).object);
  if (!head) {
    verdict.problems.push('snapshot object missing');
    return verdict;
  }
  Object.assign(verdict, await store.lockStatus(redis, id));
  const sha = createHash('sha256');
  const rdb = new RdbVerifier();
  try {
    for await (const chunk of await store.getObject(store.keys(redis, id).object)) {
      sha.update(chunk);
      verdict.bytes += chunk.length;
      onBytes?.(verdict.bytes, manifest.bytes);
      rdb.push(chunk);
    }
    const summary = rdb.end();
    if (manifest.crc64 !== 'disabled' && summary.crc64 !== manifest.crc64) verdict.problems.push(`CRC64 ${summary.crc64} differs from the manifest's ${manifest.crc64}`);
  } catch (err) {
    verdict.problems.push(`RDB check failed: ${(err as Error).message}`);
  }
  if (verdict.bytes !== manifest.bytes) verdict.problems.push(`size ${verdict.bytes} differs from the manifest's ${manifest.bytes}`);
  const digest = sha.digest('hex');
  if (digest !== manifest.sha256) verdict.problems.push(`sha256 ${digest} differs from the manifest's ${manifest.sha256}`);
  verdict.valid = verdict.problems.length === 0;
  return verdict;
}
