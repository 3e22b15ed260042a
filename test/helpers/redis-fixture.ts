// A throwaway redis-server for tests that need real RDB files, plus a minimal RESP
// client so tests do not depend on a Redis client library.
import { ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type Resp = string | number | Buffer | null | RespError | Resp[];

export class RespError extends Error {}

/** Sequential RESP2 client; replies come back in order, so callers may pipeline. */
export class RespClient {
  private buf = Buffer.alloc(0);
  private readonly waiting: { resolve: (r: Resp) => void; reject: (e: Error) => void }[] = [];
  private closedError: Error | null = null;

  private constructor(private readonly sock: net.Socket) {
    sock.on('data', (d) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
      this.drain();
    });
    const fail = (e: Error): void => {
      this.closedError = e;
      for (const w of this.waiting.splice(0)) w.reject(e);
    };
    sock.on('error', fail);
    sock.on('close', () => fail(new Error('redis connection closed')));
  }

  static connect(port: number): Promise<RespClient> {
    return new Promise((resolve, reject) => {
      const sock = net.connect({ port, host: '127.0.0.1' });
      sock.once('connect', () => {
        sock.removeListener('error', reject);
        resolve(new RespClient(sock));
      });
      sock.once('error', reject);
    });
  }

  /** Sends a command; rejects with RespError on an error reply. */
  call(...args: (string | number | Buffer)[]): Promise<Resp> {
    if (this.closedError) return Promise.reject(this.closedError);
    const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
    for (const a of args) {
      const b = Buffer.isBuffer(a) ? a : Buffer.from(String(a));
      parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
    }
    this.sock.write(Buffer.concat(parts));
    return new Promise<Resp>((resolve, reject) => this.waiting.push({ resolve, reject })).then((r) => {
      if (r instanceof RespError) throw r;
      return r;
    });
  }

  async str(...args: (string | number | Buffer)[]): Promise<string> {
    const r = await this.call(...args);
    return Buffer.isBuffer(r) ? r.toString() : String(r);
  }

  close(): void {
    this.sock.destroy();
  }

  private drain(): void {
    while (this.waiting.length) {
      const r = parseReply(this.buf, 0);
      if (!r) return;
      this.buf = this.buf.subarray(r.next);
      this.waiting.shift()!.resolve(r.value);
    }
  }
}

function parseReply(b: Buffer, pos: number): { value: Resp; next: number } | null {
  const eol = b.indexOf('\r\n', pos);
  if (eol < 0) return null;
  const line = b.toString('latin1', pos + 1, eol);
  const next = eol + 2;
  switch (b[pos]) {
    case 0x2b: // +
      return { value: line, next };
    case 0x2d: // -
      return { value: new RespError(line), next };
    case 0x3a: // :
      return { value: Number(line), next };
    case 0x24: {
      // $
      const n = Number(line);
      if (n < 0) return { value: null, next };
      if (b.length < next + n + 2) return null;
      return { value: b.subarray(next, next + n), next: next + n + 2 };
    }
    case 0x2a: {
      // *
      const n = Number(line);
      if (n < 0) return { value: null, next };
      const items: Resp[] = [];
      let p = next;
      for (let i = 0; i < n; i++) {
        const r = parseReply(b, p);
        if (!r) return null;
        items.push(r.value);
        p = r.next;
      }
      return { value: items, next: p };
    }
    default:
      throw new Error(`bad RESP reply byte ${b[pos]}`);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A redis-server in its own temp dir, persistence off except explicit SAVE. */
export class RedisFixture {
  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly proc: ChildProcess,
    readonly client: RespClient,
  ) {}

  /** `extraArgs` are appended to the command line, e.g. ['--rdbchecksum', 'no'] (immutable configs). */
  static async start(extraArgs: string[] = []): Promise<RedisFixture> {
    let lastError: unknown;
    for (let attempt = 0; attempt < 5; attempt++) {
      const dir = realpathSync(mkdtempSync(join(tmpdir(), 'titan-rdb-fixture-')));
      const port = await freePort();
      const proc = spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no',
          '--enable-debug-command', 'local', '--daemonize', 'no', '--logfile', join(dir, 'redis.log'), ...extraArgs],
        { stdio: 'ignore' },
      );
      try {
        const client = await waitReady(port, proc, dir);
        return new RedisFixture(port, dir, proc, client);
      } catch (e) {
        lastError = e;
        await stopProcess(proc);
        rmSync(dir, { recursive: true, force: true });
      }
    }
    throw new Error(`could not start redis-server: ${String(lastError)}`);
  }

  /** SAVE and return the bytes of dump.rdb. */
  async save(): Promise<Buffer> {
    await this.client.call('SAVE');
    return readFileSync(join(this.dir, 'dump.rdb'));
  }

  get rdbPath(): string {
    return join(this.dir, 'dump.rdb');
  }

  async stop(): Promise<void> {
    this.client.close();
    await stopProcess(this.proc);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

async function waitReady(port: number, proc: ChildProcess, expectDir: string): Promise<RespClient> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`redis-server exited with ${proc.exitCode}`);
    try {
      const c = await RespClient.connect(port);
      // Make sure the port is ours and not another test's server that won a race.
      const dir = await c.call('CONFIG', 'GET', 'dir');
      if (Array.isArray(dir) && String(dir[1]) === expectDir) return c;
      c.close();
      throw new Error(`port ${port} is served by another redis-server`);
    } catch (e) {
      if (e instanceof Error && e.message.includes('another redis-server')) throw e;
      // not listening yet
    }
    await sleep(50);
  }
  throw new Error('redis-server did not become ready');
}

function stopProcess(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
    proc.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    proc.kill('SIGTERM');
  });
}

/** Runs a program and returns its exit code and combined output. */
export function run(cmd: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}
