// Stopping and starting the Redis a restore replaces, for both kinds the environment file can
// describe: a local process (pid file + config file) or a container on the Docker engine.
// Stopping never lets Redis write its files: SHUTDOWN NOSAVE or SIGKILL, never SIGTERM.
import { ApplicationFailure } from '@temporalio/common';
import type Docker from 'dockerode';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import Redis from 'ioredis';
import { ErrorType } from '../lib/errors';
import type { RedisEndpoint } from './redis-sync';

/** The files Redis loads at start; the restore replaces exactly these. */
export interface RedisFiles {
  dbfilename: string;
  appendonly: boolean;
  appenddirname: string;
  appendfilename: string;
}

export type RunAs =
  | { kind: 'process'; pidFile: string; configFile: string; binary: string }
  | { kind: 'container'; container: string; uid: number; gid: number };

export interface RedisTarget {
  name: string;
  endpoint: RedisEndpoint & { address: string };
  dataDir: string;
  persistence: 'rdb' | 'aof';
  runAs: RunAs;
}

export interface RedisControl {
  isRunning(): Promise<boolean>;
  /** Stops Redis without letting it save; returns once it is gone. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Version of the Redis that will start, read without starting it (undefined when unknown). */
  installedVersion(): Promise<string | undefined>;
  /** What the Redis configuration says about its files, when readable without Redis running. */
  configuredFiles(): Partial<RedisFiles> & { dir?: string };
  /** Who must own the restored files. */
  owner(): { uid: number; gid: number };
  /** For a process: the pid the pid file names, to check it is the Redis the URL reaches. */
  processId?(): number | undefined;
}

/** One connection, one attempt: callers decide about retries. No ready check, so LOADING is visible. */
export function connectRedis(endpoint: RedisEndpoint, db = 0): Redis {
  const r = new Redis(endpoint.url, {
    password: endpoint.password,
    db,
    lazyConnect: true,
    connectTimeout: 3000,
    enableReadyCheck: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  r.on('error', () => undefined); // failures surface as command rejections
  return r;
}

/** Runs fn on a fresh connection and closes it. */
export async function withRedis<T>(endpoint: RedisEndpoint, fn: (r: Redis) => Promise<T>, db = 0): Promise<T> {
  const r = connectRedis(endpoint, db);
  try {
    await r.connect();
    return await fn(r);
  } finally {
    r.disconnect();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<boolean> {
  for (const end = Date.now() + timeoutMs; Date.now() < end; await sleep(100)) if (await check()) return true;
  return check();
}

export function redisControl(target: RedisTarget, docker: () => Docker): RedisControl {
  return target.runAs.kind === 'process' ? processControl(target, target.runAs) : containerControl(target, target.runAs, docker());
}

function processControl(target: RedisTarget, run: Extract<RunAs, { kind: 'process' }>): RedisControl {
  const config = () => parseRedisConfig(readFileSync(run.configFile, 'utf8'));
  /** The pid from the pid file, if that process is alive and is a redis-server (pids get reused). */
  const livePid = (): number | undefined => {
    if (!existsSync(run.pidFile)) return undefined;
    const pid = Number(readFileSync(run.pidFile, 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 0) return undefined;
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes('redis-server') ? pid : undefined;
    } catch {
      return undefined;
    }
  };
  return {
    async isRunning() {
      return livePid() !== undefined;
    },
    async stop() {
      const pid = livePid();
      if (pid === undefined) return;
      // SHUTDOWN NOSAVE closes the connection as it exits; any answer or error is expected.
      await withRedis(target.endpoint, (r) => r.call('SHUTDOWN', 'NOSAVE')).catch(() => undefined);
      if (await until(() => livePid() === undefined, 10_000)) return;
      process.kill(pid, 'SIGKILL'); // writes nothing, unlike SIGTERM
      if (!(await until(() => livePid() === undefined, 10_000))) throw new Error(`Redis ${target.name} (pid ${pid}) did not exit`);
    },
    async start() {
      if (livePid() !== undefined) return;
      // Not the worker's environment: it may hold secrets Redis has no use for.
      const child = spawn(run.binary, [run.configFile], { detached: true, stdio: 'ignore', cwd: path.dirname(run.configFile), env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', (err) => reject(ApplicationFailure.nonRetryable(`cannot start ${run.binary}: ${err.message}`, ErrorType.RedisStartFailed)));
      });
      child.unref();
      // A daemonizing Redis writes its own pid file; otherwise we keep it for the next stop.
      if (config().daemonize !== 'yes') {
        mkdirSync(path.dirname(run.pidFile), { recursive: true });
        writeFileSync(run.pidFile, `${child.pid}\n`);
      }
    },
    async installedVersion() {
      const { stdout } = await promisify(execFile)(run.binary, ['--version']);
      return /v=(\d+\.\d+\.\d+)/.exec(stdout)?.[1];
    },
    configuredFiles() {
      const c = config();
      return {
        dir: c.dir === undefined ? undefined : path.resolve(path.dirname(run.configFile), c.dir),
        dbfilename: c.dbfilename,
        appendonly: c.appendonly === undefined ? undefined : c.appendonly === 'yes',
        appenddirname: c.appenddirname,
        appendfilename: c.appendfilename,
      };
    },
    owner() {
      const s = statSync(target.dataDir);
      return { uid: s.uid, gid: s.gid };
    },
    processId: livePid,
  };
}

function containerControl(target: RedisTarget, run: Extract<RunAs, { kind: 'container' }>, docker: Docker): RedisControl {
  const container = docker.getContainer(run.container);
  const inspect = async () => {
    try {
      return await container.inspect();
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) {
        throw ApplicationFailure.nonRetryable(`Redis ${target.name}: no container named ${run.container} on the Docker engine`, ErrorType.RedisUnknown);
      }
      throw err;
    }
  };
  return {
    async isRunning() {
      return (await inspect()).State.Running;
    },
    async stop() {
      if (!(await inspect()).State.Running) return;
      // SIGKILL: Redis writes nothing, and the engine treats a requested kill as a manual stop,
      // so the restart policy does not bring the old data back up.
      await container.kill({ signal: 'SIGKILL' }).catch((err: { statusCode?: number }) => {
        if (err.statusCode !== 409) throw err; // 409: it stopped by itself meanwhile
      });
      if (!(await until(async () => !(await inspect()).State.Running, 10_000))) throw new Error(`container ${run.container} did not stop`);
    },
    async start() {
      if ((await inspect()).State.Running) return;
      await container.start();
    },
    async installedVersion() {
      const env = (await inspect()).Config.Env ?? [];
      return env.find((e) => e.startsWith('REDIS_VERSION='))?.slice('REDIS_VERSION='.length);
    },
    configuredFiles() {
      return {};
    },
    owner() {
      return { uid: run.uid, gid: run.gid };
    },
  };
}

/** The directives of a redis.conf we need (last one wins, as in Redis). */
export function parseRedisConfig(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([a-z-]+)\s+(?:"([^"]*)"|'([^']*)'|(\S+))/i.exec(line);
    if (m && !line.trimStart().startsWith('#')) out[m[1]!.toLowerCase()] = m[2] ?? m[3] ?? m[4]!;
  }
  return out;
}
