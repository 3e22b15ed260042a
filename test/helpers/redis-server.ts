// A throwaway Debian redis-server for one test: its own port, data dir and password.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';

export interface RedisServer {
  port: number;
  url: string;
  password: string;
  dir: string;
  /** Where SAVE writes: `dir`/dump.rdb. */
  rdbPath: string;
  client(db?: number): Redis;
  /** SAVE, then the bytes of dump.rdb. */
  save(): Promise<Buffer>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/** `extraArgs` go on the command line, e.g. ['--rdbchecksum', 'no'] for configs fixed at start. */
export async function startRedisServer(extraArgs: string[] = []): Promise<RedisServer> {
  // Another process can take the port between freePort() and redis-server's bind; then try a new one.
  for (let attempt = 1; ; attempt++) {
    const server = await launch(extraArgs);
    if (server) return server;
    if (attempt === 5) throw new Error('redis-server kept exiting at start (port taken?)');
  }
}

/** The running server, or null if redis-server exited or the port turned out to be someone else's. */
async function launch(extraArgs: string[]): Promise<RedisServer | null> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'titan-redis-'));
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  // The password goes in on stdin as a config file, so it never shows in the process list.
  const proc: ChildProcess = spawn('redis-server', ['-', '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no',
    '--repl-diskless-sync-delay', '0', '--enable-debug-command', 'local', ...extraArgs], { stdio: ['pipe', 'ignore', 'inherit'] });
  const exited = new Promise((r) => proc.once('exit', r));
  proc.stdin!.end(`requirepass ${password}\n`);
  const clients: Redis[] = [];
  const client = (db = 0) => {
    const c = new Redis({ host: '127.0.0.1', port, password, db, lazyConnect: false, maxRetriesPerRequest: 1 });
    c.on('error', () => undefined); // commands still reject; only the event is quieted
    clients.push(c);
    return c;
  };
  const stop = async () => {
    clients.forEach((c) => c.disconnect());
    proc.kill('SIGKILL');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  const probe = client();
  for (let i = 0; ; i++) {
    if (proc.exitCode !== null || proc.signalCode !== null) break;
    try {
      // Answering is not enough: it must be our process, not a server that won the port.
      const ours = (await probe.info('server')).includes(`process_id:${proc.pid}\r\n`);
      if (!ours) break;
      const rdbPath = path.join(dir, 'dump.rdb');
      return {
        port, url: `redis://127.0.0.1:${port}`, password, dir, rdbPath, client, stop,
        async save() {
          await probe.save();
          return readFileSync(rdbPath);
        },
      };
    } catch (err) {
      if (i > 100) {
        await stop();
        throw err;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  await stop();
  return null;
}
