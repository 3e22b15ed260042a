// HTTP to an Elasticsearch or OpenSearch cluster: keep-alive connections, basic auth or an API
// key, a custom CA; every failure one line naming the cluster. Node's http/https rather than a
// client library: Titan uses a handful of endpoints, and the CA needs an https.Agent anyway.
import http from 'node:http';
import https from 'node:https';
import { ApplicationFailure } from '@temporalio/common';
import { ErrorType } from '../lib/errors';

export type EsAuth = { username: string; password: string } | { apiKey: string } | undefined;

export interface EsReply<T> { status: number; body: T }

export class EsHttp {
  private readonly agent: http.Agent;
  private readonly authorization?: string;

  constructor(
    private readonly url: string,
    /** Names the cluster in every error ("OpenSearch at …", set once the cluster answered). */
    public description: string,
    auth: EsAuth,
    ca?: Buffer,
  ) {
    const secure = url.startsWith('https:');
    this.agent = secure ? new https.Agent({ keepAlive: true, maxSockets: 4, ca }) : new http.Agent({ keepAlive: true, maxSockets: 4 });
    if (auth && 'apiKey' in auth) this.authorization = `ApiKey ${auth.apiKey}`;
    else if (auth) this.authorization = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
  }

  /** A JSON request; statuses in `accept` (besides 2xx) are returned, not thrown. */
  async json<T>(method: string, path: string, body?: unknown, accept: number[] = []): Promise<EsReply<T>> {
    return this.send<T>(method, path, body === undefined ? undefined : JSON.stringify(body), 'application/json', accept);
  }

  /** A `_bulk` request body: NDJSON, one action line and one document line per item. */
  async ndjson<T>(path: string, body: string): Promise<EsReply<T>> {
    return this.send<T>('POST', path, body, 'application/x-ndjson', []);
  }

  close(): void {
    this.agent.destroy();
  }

  private async send<T>(method: string, path: string, body: string | undefined, type: string, accept: number[]): Promise<EsReply<T>> {
    const target = new URL(path, this.url);
    const headers: Record<string, string | number> = { accept: 'application/json' };
    // Encoded once: a bulk body is megabytes, and its length is needed before it is sent.
    const payload = body === undefined ? undefined : Buffer.from(body, 'utf8');
    if (payload) Object.assign(headers, { 'content-type': type, 'content-length': payload.length });
    if (this.authorization) headers.authorization = this.authorization;
    const lib = target.protocol === 'https:' ? https : http;
    let status: number;
    let text: string;
    try {
      ({ status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = lib.request(target, { method, headers, agent: this.agent, timeout: 60_000 }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        });
        req.on('timeout', () => req.destroy(new Error('no answer within 60 s')));
        req.on('error', reject);
        req.end(payload);
      }));
    } catch (err) {
      throw new Error(`${this.description} is unreachable: ${(err as Error).message}`);
    }
    if (status === 401 || status === 403) {
      throw ApplicationFailure.nonRetryable(`${this.description} refused Titan's credentials (${status} ${status === 401 ? 'unauthorized' : 'forbidden'} on ${method} ${target.pathname}): check logging.store.elasticsearch's usernameEnv/passwordEnv or apiKeyEnv`, ErrorType.LogStoreAuthFailed);
    }
    const parsed = (text ? JSON.parse(text) : {}) as T;
    if ((status < 200 || status >= 300) && !accept.includes(status)) {
      throw new Error(`${this.description} answered ${status} to ${method} ${target.pathname}: ${errorReason(parsed) ?? text.slice(0, 300)}`);
    }
    return { status, body: parsed };
  }
}

/** The `error.reason` (with its type) of an Elasticsearch error body, if it is one. */
export function errorReason(body: unknown): string | undefined {
  const e = (body as { error?: { type?: string; reason?: string; caused_by?: { reason?: string } } | string })?.error;
  if (!e) return undefined;
  if (typeof e === 'string') return e;
  return `${e.type ?? 'error'}: ${e.reason ?? ''}${e.caused_by?.reason ? ` (${e.caused_by.reason})` : ''}`;
}
