// The codec server the Temporal Web UI and CLI call to show payloads in plaintext: POST /encode
// and /decode with {payloads: [...]} (Payloads in proto JSON, bytes in base64) and X-Namespace.
// Listens on 127.0.0.1 only; CORS for the UI's origin only; an optional bearer token. Refusals
// are 4xx with a one-line JSON error, never a stack trace.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';

export interface CodecServerOptions {
  port: number;
  /** The Web UI's origin, e.g. http://127.0.0.1:8233: the only one CORS lets in. */
  uiOrigin: string;
  /** When set, every POST needs `Authorization: Bearer <token>`. */
  token?: string;
  codec: PayloadCodec;
}

const MAX_BODY_BYTES = 8 * 1024 * 1024;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

class Refusal extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export function startCodecServer(o: CodecServerOptions): Promise<Server> {
  const server = createServer((req, res) => {
    handle(o, req, res).catch((err: unknown) => {
      const refusal = err instanceof Refusal ? err : new Refusal(400, err instanceof Error ? err.message.split('\n')[0]! : 'bad request');
      if (!res.headersSent) send(res, refusal.status, { error: refusal.message }, cors(o, req));
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, '127.0.0.1', () => resolve(server));
  });
}

/** CORS headers for the UI's origin; none for any other (the browser then refuses the answer). */
function cors(o: CodecServerOptions, req: IncomingMessage): Record<string, string> {
  if (req.headers.origin !== o.uiOrigin) return {};
  return {
    'access-control-allow-origin': o.uiOrigin,
    'access-control-allow-methods': 'POST, OPTIONS',
    'access-control-allow-headers': 'content-type, x-namespace, authorization',
    'access-control-allow-credentials': 'true',
    'access-control-max-age': '600',
    vary: 'Origin',
  };
}

async function handle(o: CodecServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  // Browsers always send Origin on cross-origin POSTs; the CLI sends none. Any other origin is refused outright.
  if (req.headers.origin !== undefined && req.headers.origin !== o.uiOrigin) throw new Refusal(403, `origin ${req.headers.origin} not allowed`);
  const path = new URL(req.url ?? '/', 'http://codec').pathname;
  if (path !== '/encode' && path !== '/decode') throw new Refusal(404, 'only /encode and /decode');
  if (req.method === 'OPTIONS') {
    res.writeHead(204, cors(o, req)).end();
    return;
  }
  if (req.method !== 'POST') throw new Refusal(405, 'POST only');
  if (o.token && !bearerMatches(req.headers.authorization, o.token)) throw new Refusal(401, 'missing or wrong bearer token');
  const payloads = parsePayloads(await readBody(req));
  const out = path === '/encode' ? await o.codec.encode(payloads) : await o.codec.decode(payloads);
  send(res, 200, { payloads: out.map(toJson) }, cors(o, req));
}

function bearerMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(header?.replace(/^Bearer /, '') ?? '');
  const want = Buffer.from(token);
  return header?.startsWith('Bearer ') === true && given.length === want.length && timingSafeEqual(given, want);
}

async function readBody(req: IncomingMessage): Promise<string> {
  if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) throw new Refusal(415, 'content-type must be application/json');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new Refusal(413, `body larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

const bytes = (v: unknown, where: string): Buffer => {
  if (typeof v !== 'string' || !BASE64.test(v)) throw new Refusal(400, `${where} must be base64`);
  return Buffer.from(v, 'base64');
};

function parsePayloads(body: string): Payload[] {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    throw new Refusal(400, 'body is not JSON');
  }
  const list = (doc as { payloads?: unknown } | null)?.payloads;
  if (!Array.isArray(list)) throw new Refusal(400, 'body must be {"payloads": [...]}');
  return list.map((p: unknown, i) => {
    if (!p || typeof p !== 'object') throw new Refusal(400, `payloads[${i}] must be an object`);
    const { metadata = {}, data = '' } = p as { metadata?: unknown; data?: unknown };
    if (!metadata || typeof metadata !== 'object' || Array.isArray(metadata)) throw new Refusal(400, `payloads[${i}].metadata must be an object`);
    return {
      metadata: Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k, bytes(v, `payloads[${i}].metadata.${k}`)])),
      data: bytes(data, `payloads[${i}].data`),
    };
  });
}

function toJson(p: Payload) {
  const b64 = (b: Uint8Array | null | undefined) => Buffer.from(b ?? []).toString('base64');
  return { metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, b64(v)])), data: b64(p.data) };
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string>): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}
