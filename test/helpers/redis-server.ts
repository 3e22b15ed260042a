// A throwaway Debian redis-server for one test: its own port, data dir and password.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';

export interface RedisServer {
  port: number;
  url: string;
  password: string;
  dir: string;
  client(db?: number): Redis;
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

export async function startRedisServer(extraArgs: string[] = []): Promise<RedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'titan-redis-'));
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  // The password goes in on stdin as a config file, so it never shows in the process list.
  const proc: ChildProcess = spawn('redis-server', ['-', '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no',
    '--repl-diskless-sync-delay', '0', '--enable-debug-command', 'local', ...extraArgs], { stdio: ['pipe', 'ignore', 'inherit'] });
  proc.stdin!.end(`requirepass ${password}\n`);
  const clients: Redis[] = [];
  const client = (db = 0) => {
    const c = new Redis({ host: '127.0.0.1', port, password, db, lazyConnect: false, maxRetriesPerRequest: 1 });
    c.on('error', () => undefined); // commands still reject; only the event is quieted
    clients.push(c);
    return c;
  };
  const probe = client();
  for (let i = 0; ; i++) {
    try {
      await probe.ping();
      break;
    } catch (err) {
      if (i > 100) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    port, url: `redis://127.0.0.1:${port}`, password, dir, client,
    async stop() {
      clients.forEach((c) => c.disconnect());
      proc.kill('SIGKILL');
      await new Promise((r) => proc.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
