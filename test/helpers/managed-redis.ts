// A Redis the restore can stop and start itself: a detached redis-server run from a config file
// on disk (mode 600, it holds the password), with a pid file, like the stack's own Redis.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { freePort } from './redis-server';

export interface ManagedRedis {
  url: string;
  password: string;
  dataDir: string;
  configFile: string;
  pidFile: string;
  client(db?: number): Redis;
  /** INFO server run_id: changes whenever Redis restarts. */
  runId(): Promise<string>;
  /** SHUTDOWN NOSAVE, then start again from the files on disk (proves what Redis persisted). */
  restart(): Promise<void>;
  /** The environment-file entry for this instance. */
  instance(passwordEnv: string, persistence?: 'rdb' | 'aof'): Record<string, unknown>;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startManagedRedis(opts: { appendonly?: boolean; extra?: string[] } = {}): Promise<ManagedRedis> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'titan-managed-redis-'));
  const dataDir = path.join(root, 'data');
  mkdirSync(dataDir, { mode: 0o700 });
  const configFile = path.join(root, 'redis.conf');
  const pidFile = path.join(root, 'redis.pid');
  const port = await freePort();
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  writeFileSync(configFile, [
    `port ${port}`, 'bind 127.0.0.1', `requirepass ${password}`, `dir ${dataDir}`, 'dbfilename dump.rdb',
    `appendonly ${opts.appendonly ? 'yes' : 'no'}`, 'save ""', 'repl-diskless-sync-delay 0', 'enable-debug-command local',
    `logfile ${path.join(root, 'redis.log')}`, ...(opts.extra ?? []), '',
  ].join('\n'), { mode: 0o600 });
  const url = `redis://127.0.0.1:${port}`;
  const clients: Redis[] = [];
  const client = (db = 0) => {
    const c = new Redis({ host: '127.0.0.1', port, password, db, maxRetriesPerRequest: 1 });
    c.on('error', () => undefined);
    clients.push(c);
    return c;
  };
  const pid = () => Number(readFileSync(pidFile, 'utf8'));
  const alive = (p: number) => { try { process.kill(p, 0); return true; } catch { return false; } };
  const launch = async () => {
    const proc = spawn('redis-server', [configFile], { detached: true, stdio: 'ignore' });
    proc.unref();
    writeFileSync(pidFile, `${proc.pid}\n`);
    // Until it answers PING (not LOADING).
    for (let i = 0; ; i++) {
      const probe = new Redis({ host: '127.0.0.1', port, password, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on('error', () => undefined);
      try {
        await probe.connect();
        if ((await probe.ping()) === 'PONG') return;
      } catch (err) {
        if (i > 600) throw new Error(`redis-server on ${port} did not start: ${(err as Error).message}`);
        await sleep(50);
      } finally {
        probe.disconnect();
      }
    }
  };
  await launch();
  return {
    url, password, dataDir, configFile, pidFile, client,
    async runId() {
      return /run_id:(\w+)/.exec(await client().info('server'))![1]!;
    },
    async restart() {
      const p = pid();
      await client().call('SHUTDOWN', 'NOSAVE').catch(() => undefined);
      while (alive(p)) await sleep(20);
      await launch();
    },
    instance(passwordEnv, persistence = opts.appendonly ? 'aof' : 'rdb') {
      return { url, passwordEnv, runAs: { process: { pidFile, configFile } }, dataDir, persistence };
    },
    async stop() {
      clients.forEach((c) => c.disconnect());
      // The restore may have restarted it: the pid file names the current process.
      const p = pid();
      if (alive(p)) process.kill(p, 'SIGKILL');
      while (alive(p)) await sleep(20);
      rmSync(root, { recursive: true, force: true });
    },
  };
}
