// Running backups and reading what they stored, for tests.
import { createHash, randomBytes } from 'node:crypto';
import { ListMultipartUploadsCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { Client } from '@temporalio/client';
import type Redis from 'ioredis';
import type { BackupStore } from '../../src/infra/backup-store';
import { buildDeps } from '../../src/deps';
import { type BackupManifest, newBackupId } from '../../src/lib/manifest';
import type { RedisBackupResult } from '../../src/workflows/redis-backup';
import type { RedisRestoreInput, RedisRestoreResult } from '../../src/workflows/redis-restore';
import { uniqueName } from './stack';
import type { TestEnv } from './titan-env';

export function stores(env: TestEnv): BackupStore[] {
  return buildDeps(env.loaded).allStores;
}

/** A backup of `main`; `from` streams it from that replica of main, as backups.schedules.<id>.from does. */
export async function runBackup(client: Client, env: TestEnv, retentionClass: 'hourly' | 'daily' = 'daily', from?: string): Promise<RedisBackupResult> {
  return client.workflow.execute('redisBackup', {
    taskQueue: env.taskQueue,
    workflowId: uniqueName(`${env.environment}-backup`),
    args: [{ redis: 'main', retentionClass, ...(from && { from }) }],
  });
}

export async function runRestore(client: Client, env: TestEnv, input: RedisRestoreInput): Promise<RedisRestoreResult> {
  return client.workflow.execute('redisRestore', {
    taskQueue: env.taskQueue,
    workflowId: uniqueName(`${env.environment}-restore`),
    args: [input],
  });
}

/** The failure message a workflow ended with (its innermost cause). */
export async function failureOf(p: Promise<unknown>): Promise<{ type?: string; message: string }> {
  try {
    await p;
  } catch (err) {
    let e = err as { cause?: unknown; message: string; type?: string };
    while (e.cause && !e.type) e = e.cause as typeof e;
    return { type: e.type, message: e.message };
  }
  throw new Error('expected the workflow to fail');
}

export async function readObject(store: BackupStore, key: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of await store.getObject(key)) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

export const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Every key this location holds under the test's prefix, and its unfinished multipart uploads. */
export async function footprint(store: BackupStore, env: TestEnv): Promise<{ objects: string[]; uploads: number }> {
  const entries = await store.list('main');
  const uploads = await store.client.send(new ListMultipartUploadsCommand({ Bucket: store.bucket, Prefix: env.prefix }));
  return { objects: entries.map((e) => e.id), uploads: uploads.Uploads?.length ?? 0 };
}

/** Stores a backup as Titan would (object, then manifest), for retention and verifier tests. */
export async function putBackup(store: BackupStore, id: string, body: Buffer, manifest?: BackupManifest): Promise<void> {
  const keys = store.keys('main', id);
  await store.client.send(new PutObjectCommand({ Bucket: store.bucket, Key: keys.object, Body: body }));
  if (manifest) await store.putManifest('main', { ...manifest, id });
}

/**
 * Stores a variant of a stored backup under a newer id (`secondsLater` after it), so a restore
 * meets it first. `change` gets the original bytes and a manifest already renamed to the new id;
 * returning manifest null stores the object alone.
 */
export async function deriveBackup(store: BackupStore, from: BackupManifest, secondsLater: number,
  change: (body: Buffer, m: BackupManifest) => { body: Buffer; manifest: BackupManifest | null }): Promise<string> {
  const at = new Date(Date.parse(from.createdAt) + secondsLater * 1000);
  const id = newBackupId('main', at, randomBytes(4).toString('hex'));
  const original = await readObject(store, store.keys('main', from.id).object);
  const v = change(original, { ...from, id, createdAt: at.toISOString() });
  await putBackup(store, id, v.body, v.manifest ?? undefined);
  return id;
}

/**
 * A dataset worth backing up: three databases, keys with TTLs, every value type, and a few
 * values of several MiB.
 */
export async function seedDataset(client: (db: number) => Redis): Promise<void> {
  const db0 = client(0);
  const p = db0.pipeline();
  for (let i = 0; i < 2000; i++) p.set(`user:${i}`, `value-${i}-${'x'.repeat(i % 200)}`);
  for (let i = 0; i < 300; i++) p.set(`session:${i}`, `s${i}`, 'EX', 3600 + i);
  p.hset('config:flags', { a: '1', b: '2', c: 'three' });
  p.rpush('queue:jobs', ...Array.from({ length: 500 }, (_, i) => `job-${i}`));
  p.sadd('tags', 'red', 'green', 'blue');
  p.zadd('leaderboard', 1, 'ann', 2, 'bob', 3.5, 'cy');
  p.xadd('events', '*', 'type', 'boot');
  await p.exec();
  const db1 = client(1);
  await db1.set('counter', 42);
  await db1.set('cache:temp', 'soon gone', 'PX', 7_200_000);
  const db7 = client(7);
  for (let i = 0; i < 3; i++) await db7.set(`blob:${i}`, randomBytes(3 * 1024 * 1024));
}
