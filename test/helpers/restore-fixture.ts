// The ground of the restore tests that plant corrupt backups: a managed Redis with some data, a
// worker, and one good backup of that data to derive the corrupt ones from.
import type { Client } from '@temporalio/client';
import type { ChainableCommander } from 'ioredis';
import type { BackupManifest } from '../../src/lib/manifest';
import { runBackup, stores } from './backups';
import { datasetDigest } from './dataset';
import { type ManagedRedis, startManagedRedis } from './managed-redis';
import { temporalClient } from './stack';
import { type TestEnv, type TestEnvOptions, writeTestEnvironment } from './titan-env';
import { startWorker } from './worker';

export interface RestoreFixture {
  client: Client;
  prod: ManagedRedis;
  env: TestEnv;
  worker: { stop(): Promise<void> };
  /** The good backup's manifest, and a digest of the data it holds. */
  good: BackupManifest;
  goodData: Awaited<ReturnType<typeof datasetDigest>>;
}

/** `label` names the password variable (TITAN_TEST_<label>_PASSWORD); `populate` writes the data. */
export async function restoreFixture(label: string, populate: (p: ChainableCommander) => void, envOptions: Partial<TestEnvOptions> = {}): Promise<RestoreFixture> {
  const client = await temporalClient();
  const prod = await startManagedRedis();
  const passwordEnv = `TITAN_TEST_${label}_PASSWORD`;
  process.env[passwordEnv] = prod.password;
  const env = writeTestEnvironment({ ...envOptions, instances: { main: prod.instance(passwordEnv) } });
  const worker = await startWorker(env);
  const p = prod.client().pipeline();
  populate(p);
  await p.exec();
  const goodData = await datasetDigest(prod.client);
  const [primary] = stores(env);
  const good = (await primary!.readManifest('main', (await runBackup(client, env)).backupId))!;
  return { client, prod, env, worker, good, goodData };
}

export async function stopRestoreFixture(f: Partial<RestoreFixture> | undefined): Promise<void> {
  await f?.worker?.stop();
  await f?.prod?.stop();
  await f?.client?.connection.close();
}
