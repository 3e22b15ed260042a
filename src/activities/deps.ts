// Everything activities need, built once by the worker from the environment file. Secrets are
// resolved here, inside the worker, and never travel through workflow arguments or results.
import { ApplicationFailure } from '@temporalio/common';
import type { LoadedEnvironment } from '../load-environment';
import { ErrorType } from '../lib/shared';
import type { LocationName } from '../lib/config';
import type { RetentionPolicy } from '../lib/retention';
import Docker from 'dockerode';
import { BackupStore } from './backup-store';
import type { RedisTarget } from './redis-control';
import type { RedisEndpoint } from './redis-sync';

export interface Deps {
  environment: string;
  redis(name: string): RedisEndpoint & { address: string };
  /** A Redis instance with what a restore needs: how to stop and start it, where its files are. */
  redisTarget(name: string): RedisTarget;
  /** The Docker engine, connected on first use. */
  docker(): Docker;
  stores: { primary: BackupStore; offsite?: BackupStore };
  /** Every configured location, primary first. */
  allStores: BackupStore[];
  store(name: LocationName): BackupStore;
  partSize: number;
  queueSize: number;
  retention: RetentionPolicy;
}

export function buildDeps(loaded: LoadedEnvironment): Deps {
  const { env, secret } = loaded;
  const locations = env.backups.locations;
  const makeStore = (name: LocationName) => {
    const loc = locations[name]!.s3;
    const field = `backups.locations.${name}.s3`;
    return new BackupStore(name, loc, {
      accessKeyId: secret(loc.accessKeyIdEnv, `${field}.accessKeyIdEnv`),
      secretAccessKey: secret(loc.secretAccessKeyEnv, `${field}.secretAccessKeyEnv`),
    });
  };
  const redis = (name: string) => {
    const r = env.redis[name];
    if (!r) throw ApplicationFailure.nonRetryable(`no Redis instance named "${name}" in ${loaded.file}`, ErrorType.RedisUnknown);
    return r;
  };
  const endpoint = (name: string) => {
    const r = redis(name);
    const u = new URL(r.url);
    return { url: r.url, address: `${u.hostname}:${u.port || 6379}`, password: r.passwordEnv ? secret(r.passwordEnv, `redis.${name}.passwordEnv`) : undefined };
  };
  let docker: Docker | undefined;
  const stores = { primary: makeStore('primary'), offsite: locations.offsite ? makeStore('offsite') : undefined };
  return {
    environment: env.environment,
    redis: endpoint,
    redisTarget(name) {
      const r = redis(name);
      const runAs = r.runAs;
      return {
        name,
        endpoint: endpoint(name),
        dataDir: loaded.resolvePath(r.dataDir),
        persistence: r.persistence,
        runAs: 'process' in runAs
          ? { kind: 'process', pidFile: loaded.resolvePath(runAs.process.pidFile), configFile: loaded.resolvePath(runAs.process.configFile), binary: runAs.process.binary }
          : { kind: 'container', container: runAs.container, uid: Number(runAs.owner.split(':')[0]), gid: Number(runAs.owner.split(':')[1]) },
      };
    },
    docker() {
      docker ??= new Docker({ socketPath: loaded.resolvePath(env.docker.socketPath) });
      return docker;
    },
    stores,
    allStores: [stores.primary, ...(stores.offsite ? [stores.offsite] : [])],
    store(name) {
      const s = stores[name];
      if (!s) throw new Error(`no ${name} backup location in ${loaded.file}`);
      return s;
    },
    partSize: env.backups.partSizeMiB * 1024 * 1024,
    queueSize: env.backups.queueSize,
    retention: env.backups.retention,
  };
}
