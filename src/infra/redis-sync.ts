// Takes an RDB snapshot from a live Redis over the network, as a replica would: AUTH, REPLCONF capa
// eof, REPLCONF rdb-only 1, SYNC. Redis answers with newline keep-alives while it prepares the
// snapshot, then either `$<len>\r\n<payload>` (disk-based) or `$EOF:<40-byte mark>\r\n<payload><mark>`
// (diskless). No access to Redis's disk is needed, and the payload is yielded as it arrives.
import { ApplicationFailure } from '@temporalio/common';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { ErrorType } from '../lib/errors';

export interface RedisEndpoint {
  url: string;
  password?: string;
  /** For rediss:// URLs: files, read when connecting (the worker's side only, never workflow arguments). */
  tls?: RedisTls;
}

export interface RedisTls {
  /** The CA that signed Redis's certificate (instead of the system's CAs). */
  caFile: string;
  /** A client certificate and its key, for a Redis with tls-auth-clients. */
  certFile?: string;
  keyFile?: string;
}

/**
 * The TLS options of every connection to a rediss:// endpoint, ioredis and the replication socket
 * alike; undefined for redis://. No servername for an IP address (SNI takes host names only).
 */
export function redisTlsOptions(endpoint: RedisEndpoint): tls.ConnectionOptions | undefined {
  const url = new URL(endpoint.url);
  if (url.protocol !== 'rediss:') return undefined;
  const read = (file: string | undefined, what: string) => {
    if (file === undefined) return undefined;
    try {
      return readFileSync(file);
    } catch (err) {
      throw ApplicationFailure.nonRetryable(`Redis ${url.host}: cannot read the TLS ${what} ${file}: ${(err as Error).message}`, ErrorType.ConfigInvalid);
    }
  };
  const t = endpoint.tls;
  return {
    ca: read(t?.caFile, 'CA file'),
    cert: read(t?.certFile, 'certificate file'),
    key: read(t?.keyFile, 'key file'),
    servername: net.isIP(url.hostname) ? undefined : url.hostname,
  };
}

export interface RdbSync {
  /** INFO server, keyspace and replication, taken on the same connection just before SYNC. */
  info: { server: string; keyspace: string; replication: string };
  /** Payload length when Redis announced it (`$<len>`), undefined for the EOF-marked framing. */
  declaredBytes?: number;
  /** The RDB payload, chunk by chunk. Throws if the connection ends before the payload does. */
  payload: AsyncGenerator<Buffer>;
  close(): void;
}

const EOF_MARK_LEN = 40;

/** `beforeSync` may throw to refuse this Redis before it is asked for a snapshot (and forks). */
export async function openRdbSync(endpoint: RedisEndpoint, opts: { onKeepAlive?: () => void; idleTimeoutMs?: number; beforeSync?: (info: RdbSync['info']) => void } = {}): Promise<RdbSync> {
  const url = new URL(endpoint.url);
  const host = url.hostname;
  const port = Number(url.port || 6379);
  const secureOptions = redisTlsOptions(endpoint);
  const secure = secureOptions !== undefined;
  const idleMs = opts.idleTimeoutMs ?? 60_000;
  // Plain TCP reads into a few reused buffers (see ReadRing); TLS sockets cannot, and stream as usual.
  const ring = secure ? undefined : new ReadRing();
  const socket = secure ? tls.connect({ ...secureOptions, host, port }) : net.connect({ host, port, onread: ring!.onread });
  socket.setTimeout(idleMs, () => socket.destroy(new Error(`Redis ${host}:${port} sent nothing for ${idleMs / 1000}s`)));
  await new Promise<void>((resolve, reject) => {
    socket.once(secure ? 'secureConnect' : 'connect', resolve);
    socket.once('error', reject);
  });
  const reader = new RespReader(socket, endpoint.url, ring?.attach(socket));
  try {
    if (endpoint.password) {
      const user = decodeURIComponent(url.username);
      await reader.command(user ? ['AUTH', user, endpoint.password] : ['AUTH', endpoint.password]);
    }
    const server = await reader.command(['INFO', 'server']);
    const keyspace = await reader.command(['INFO', 'keyspace']);
    const replication = await reader.command(['INFO', 'replication']);
    opts.beforeSync?.({ server, keyspace, replication });
    await reader.command(['REPLCONF', 'capa', 'eof']);
    // Redis < 7 lacks rdb-only; it would then stream commands after the RDB, which we never read.
    await reader.command(['REPLCONF', 'rdb-only', '1']).catch((err: Error) => {
      if (!/ERR/.test(err.message)) throw err;
    });
    reader.send(['SYNC']);
    let header: string;
    do {
      header = await reader.line();
      if (header === '') opts.onKeepAlive?.();
    } while (header === '');
    if (header.startsWith('-')) throw redisError(header.slice(1), endpoint.url);
    if (!header.startsWith('$')) throw new Error(`Redis answered SYNC with an unexpected line: ${header.slice(0, 80)}`);
    const eofMark = header.startsWith('$EOF:') ? Buffer.from(header.slice(5)) : undefined;
    if (eofMark && eofMark.length !== EOF_MARK_LEN) throw new Error(`Redis sent a malformed EOF mark: ${header}`);
    const declaredBytes = eofMark ? undefined : Number(header.slice(1));
    if (declaredBytes !== undefined && !Number.isSafeInteger(declaredBytes)) throw new Error(`Redis sent a malformed payload length: ${header}`);
    const payload = eofMark ? reader.untilMark(eofMark) : reader.exactly(declaredBytes!);
    return { info: { server, keyspace, replication }, declaredBytes, payload, close: () => socket.destroy() };
  } catch (err) {
    socket.destroy();
    throw err;
  }
}

function redisError(message: string, url: string): Error {
  if (/^(WRONGPASS|NOAUTH|NOPERM)/.test(message)) {
    return ApplicationFailure.nonRetryable(`Redis ${url} refused the credentials: ${message}`, ErrorType.RedisAuthFailed);
  }
  return new Error(`Redis ${url}: ${message}`);
}

/** Where RespReader's bytes come from; `release` hands back a chunk once nothing refers to it. */
interface ChunkSource {
  next(): Promise<Buffer | undefined>;
  release(chunk: Buffer): void;
}

const RING_BUFFERS = 4;
const RING_BUFFER_BYTES = 512 * 1024;

/**
 * Socket reads straight into RING_BUFFERS reused buffers of 512 KiB (net's `onread`) instead of a
 * fresh 64 KiB buffer per read: fewer, larger chunks, and no per-read allocation to collect (it cost
 * dozens of full GCs per GiB). The socket owns one buffer as its read target; the others carry
 * chunks until released, and the socket pauses while none is free for its next read.
 */
class ReadRing implements ChunkSource {
  private readonly free: Buffer[] = Array.from({ length: RING_BUFFERS }, () => Buffer.allocUnsafeSlow(RING_BUFFER_BYTES));
  /** Each buffer by its memory, to take a chunk (a view) back as its whole buffer. */
  private readonly owner = new Map<ArrayBufferLike, Buffer>(this.free.map((b) => [b.buffer, b]));
  private readonly ready: Buffer[] = [];
  private socket?: net.Socket;
  private paused = false;
  private ended = false;
  private failure?: Error;
  private wake?: () => void;

  readonly onread = {
    buffer: () => this.free.pop()!,
    callback: (n: number, buf: Uint8Array): boolean => {
      this.ready.push((buf as Buffer).subarray(0, n));
      this.wake?.();
      // The buffer for the next read is taken right after this returns: pause if it is the last.
      this.paused = this.free.length <= 1;
      return !this.paused;
    },
  };

  attach(socket: net.Socket): this {
    this.socket = socket;
    socket.on('error', (err) => (this.failure = err));
    socket.on('close', () => {
      this.ended = true;
      this.wake?.();
    });
    return this;
  }

  async next(): Promise<Buffer | undefined> {
    while (!this.ready.length) {
      if (this.failure) throw this.failure;
      if (this.ended) return undefined;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
    return this.ready.shift();
  }

  release(chunk: Buffer): void {
    this.free.push(this.owner.get(chunk.buffer)!);
    if (this.paused) {
      this.paused = false;
      this.socket!.resume();
    }
  }
}

/** A socket's own chunks (TLS): nothing to release. */
function streamChunks(socket: net.Socket): ChunkSource {
  const it: AsyncIterator<Buffer> = socket[Symbol.asyncIterator]();
  return { next: async () => ((await it.next()).value as Buffer | undefined), release: () => undefined };
}

/** Just enough RESP for a replica handshake: simple strings, errors, bulk strings, raw payload. */
class RespReader {
  private readonly source: ChunkSource;
  private buf: Buffer = Buffer.alloc(0);
  /** The source's chunk that `buf` is a view of, released once `buf` moves past it. */
  private held?: Buffer;

  constructor(private readonly socket: net.Socket, private readonly url: string, source?: ChunkSource) {
    this.source = source ?? streamChunks(socket);
  }

  send(args: string[]): void {
    this.socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
  }

  async command(args: string[]): Promise<string> {
    this.send(args);
    const line = await this.line();
    if (line.startsWith('+')) return line.slice(1);
    if (line.startsWith('-')) throw redisError(line.slice(1), this.url);
    if (line.startsWith('$')) {
      const len = Number(line.slice(1));
      while (this.buf.length < len + 2) await this.fill();
      const text = this.buf.subarray(0, len).toString();
      this.buf = this.buf.subarray(len + 2);
      return text;
    }
    throw new Error(`unexpected Redis reply to ${args[0]}: ${line.slice(0, 80)}`);
  }

  /** One line without its terminator; a bare "\n" keep-alive reads as "". */
  async line(): Promise<string> {
    let nl: number;
    while ((nl = this.buf.indexOf(10)) < 0) await this.fill();
    const text = this.buf.subarray(0, nl).toString().replace(/\r$/, '');
    this.buf = this.buf.subarray(nl + 1);
    return text;
  }

  async *exactly(total: number): AsyncGenerator<Buffer> {
    let left = total;
    while (left > 0) {
      if (this.buf.length === 0) await this.fill();
      const chunk = this.buf.subarray(0, Math.min(left, this.buf.length));
      this.buf = this.buf.subarray(chunk.length);
      left -= chunk.length;
      yield chunk;
    }
  }

  /** Yields everything up to the EOF mark, holding back the last 40 bytes until more arrive. */
  async *untilMark(mark: Buffer): AsyncGenerator<Buffer> {
    let tail = Buffer.alloc(0);
    for (;;) {
      if (this.buf.length === 0) await this.fill();
      const chunk = this.buf;
      this.buf = Buffer.alloc(0);
      if (chunk.length >= EOF_MARK_LEN) {
        if (tail.length) yield tail;
        yield chunk.subarray(0, chunk.length - EOF_MARK_LEN);
        tail = Buffer.from(chunk.subarray(chunk.length - EOF_MARK_LEN));
      } else {
        const joined = Buffer.concat([tail, chunk]);
        const cut = Math.max(0, joined.length - EOF_MARK_LEN);
        if (cut) yield joined.subarray(0, cut);
        tail = joined.subarray(cut);
      }
      if (tail.length === EOF_MARK_LEN && tail.equals(mark)) return;
    }
  }

  private async fill(): Promise<void> {
    const chunk = await this.source.next();
    if (!chunk) throw new Error('Redis closed the connection before the snapshot was complete');
    const held = this.held;
    if (this.buf.length) {
      this.buf = Buffer.concat([this.buf, chunk]);
      this.held = undefined;
      this.source.release(chunk);
    } else {
      this.buf = chunk;
      this.held = chunk;
    }
    if (held) this.source.release(held);
  }
}
