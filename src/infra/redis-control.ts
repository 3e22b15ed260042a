// Stopping and starting the Redis a restore replaces, for the three kinds the environment file can
// describe: a local process (pid file + config file, daemonizing or not), a container on the Docker
// engine, or a service manager's commands (systemctl and the like).
// Stopping never lets Redis write its files: SHUTDOWN NOSAVE or SIGKILL, never a plain SIGTERM; a
// service manager's stop gets a Redis told beforehand that no shutdown may save.
import { ApplicationFailure } from '@temporalio/common';
import type Docker from 'dockerode';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import Redis from 'ioredis';
import { ErrorType } from '../lib/errors';
import { type RedisEndpoint, redisTlsOptions } from './redis-sync';

/** The files Redis loads at start; the restore replaces exactly these. */
export interface RedisFiles {
  dbfilename: string;
  appendonly: boolean;
  appenddirname: string;
  appendfilename: string;
}

export type RunAs =
  | { kind: 'process'; pidFile: string; configFile: string; binary: string }
  | { kind: 'container'; container: string; uid: number; gid: number }
  | { kind: 'commands'; stop: string; start: string; check?: string };

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
  configuredFiles(): Partial<RedisFiles> & { dir?: string; daemonize?: boolean; pidFile?: string };
  /** Who must own the restored files. */
  owner(): { uid: number; gid: number };
  /** For a process: the pid the pid file names, to check it is the Redis the URL reaches. */
  processId?(): number | undefined;
}

/** One connection, one attempt: callers decide about retries. No ready check, so LOADING is visible. */
export function connectRedis(endpoint: RedisEndpoint, db = 0): Redis {
  const r = new Redis(endpoint.url, {
    password: endpoint.password,
    tls: redisTlsOptions(endpoint),
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

/** Polls often at first (a Redis stops or writes its pid file in milliseconds), then every 100 ms. */
async function until(check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<boolean> {
  for (let end = Date.now() + timeoutMs, wait = 10; Date.now() < end; await sleep(wait), wait = Math.min(100, wait * 2)) if (await check()) return true;
  return check();
}

/** How long a daemonizing Redis may take to write its pid file, or a service manager to start or stop it. */
const START_WAIT_MS = 30_000;

export function redisControl(target: RedisTarget, docker: () => Docker): RedisControl {
  const run = target.runAs;
  if (run.kind === 'process') return processControl(target, run);
  if (run.kind === 'commands') return commandsControl(target, run);
  return containerControl(target, run, docker());
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
      const daemonizes = config().daemonize === 'yes';
      // Not the worker's environment: it may hold secrets Redis has no use for.
      const child = spawn(run.binary, [run.configFile], { detached: true, stdio: 'ignore', cwd: path.dirname(run.configFile), env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', (err) => reject(ApplicationFailure.nonRetryable(`cannot start ${run.binary}: ${err.message}`, ErrorType.RedisStartFailed)));
      });
      child.unref();
      if (!daemonizes) {
        // We keep the pid file for the next stop.
        mkdirSync(path.dirname(run.pidFile), { recursive: true });
        writeFileSync(run.pidFile, `${child.pid}\n`);
        return;
      }
      // The process we started exits once it has forked (code 0), or at once on a bad config; the
      // daemon writes its pid file a moment later. Until then "no pid file" means "not yet", not "exited".
      const code = await exited;
      if (code !== 0) throw ApplicationFailure.nonRetryable(`Redis ${target.name} exited with code ${code} before daemonizing (see its log)`, ErrorType.RedisStartFailed);
      if (!(await until(() => livePid() !== undefined, START_WAIT_MS))) {
        throw ApplicationFailure.nonRetryable(`Redis ${target.name} daemonized, but within ${START_WAIT_MS / 1000}s its pid file ${run.pidFile} named no running redis-server (it exited, or its pidfile directive names another file; see its log)`, ErrorType.RedisStartFailed);
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
        daemonize: c.daemonize === 'yes',
        pidFile: c.pidfile === undefined ? undefined : path.resolve(path.dirname(run.configFile), c.pidfile),
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

/**
 * A Redis a service manager runs: its own commands stop and start it. The manager's stop is a
 * SIGTERM or a SHUTDOWN, either of which may save; so first the running Redis is told that no
 * shutdown may save (CONFIG SET, which lasts until it restarts). A Redis that refuses is not stopped.
 */
function commandsControl(target: RedisTarget, run: Extract<RunAs, { kind: 'commands' }>): RedisControl {
  const sh = (what: 'stop' | 'start' | 'check', command: string) => promisify(execFile)('/bin/sh', ['-c', command], {
    timeout: 120_000,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, // not the worker's secrets
  }).then(() => true, (err: Error & { code?: number | string; stderr?: string }) => {
    if (what === 'check' && typeof err.code === 'number') return false; // exit status ≠ 0: not running
    const why = err.stderr?.trim().split('\n').slice(-3).join(' ') || err.message;
    throw new Error(`Redis ${target.name}: the ${what} command "${command}" failed: ${why}`);
  });
  // Without a check command, "running" is "answers at its URL" (LOADING and NOAUTH are answers).
  const answers = () => withRedis(target.endpoint, (r) => r.ping()).then(() => true, (err: Error) => !/ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|closed/i.test(err.message));
  const isRunning = () => (run.check ? sh('check', run.check) : answers());
  return {
    isRunning,
    async stop() {
      if (!(await isRunning())) return;
      const forbidSave = (args: string[]) => withRedis(target.endpoint, (r) => r.call('CONFIG', 'SET', ...args));
      // Redis 7 takes several parameters at once; older ones know neither the shutdown-on-* settings nor that.
      await forbidSave(['save', '', 'shutdown-on-sigterm', 'nosave', 'shutdown-on-sigint', 'nosave'])
        .catch(() => forbidSave(['save', '']))
        .catch((err: Error) => {
          throw ApplicationFailure.nonRetryable(`Redis ${target.name}: not stopped, since a stop by "${run.stop}" could save its data over the files a rollback needs: CONFIG SET save "" was refused (${err.message}); allow CONFIG for Titan's user`, ErrorType.RedisStopFailed);
        });
      await sh('stop', run.stop);
      if (!(await until(async () => !(await isRunning()), START_WAIT_MS))) throw new Error(`Redis ${target.name} is still running ${START_WAIT_MS / 1000}s after "${run.stop}"`);
    },
    async start() {
      if (await isRunning()) return;
      await sh('start', run.start);
      if (!(await until(isRunning, START_WAIT_MS))) {
        throw ApplicationFailure.nonRetryable(`Redis ${target.name}: "${run.start}" succeeded, but ${run.check ? `"${run.check}" did not report it running` : `nothing answered at ${target.endpoint.address}`} within ${START_WAIT_MS / 1000}s (see its log)`, ErrorType.RedisStartFailed);
      }
    },
    async installedVersion() {
      return undefined; // read from the running Redis when it answers
    },
    configuredFiles() {
      return {};
    },
    owner() {
      const s = statSync(target.dataDir);
      return { uid: s.uid, gid: s.gid };
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
