// `titan codec-server` as the Web UI and the temporal CLI call it: CORS for the UI's origin only
// (the preflight allows POST, content-type and x-namespace), a bearer token when configured, and
// every refusal a 4xx with a one-line JSON error, never a stack trace.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { defaultPayloadConverter } from '@temporalio/common';
import { freePort } from '../helpers/redis-server';
import { repoRoot } from '../helpers/stack';
import { type TestEnv, writeTestEnvironment } from '../helpers/titan-env';
import { until } from '../helpers/wait';

const UI_ORIGIN = 'http://127.0.0.1:8233';
const TOKEN = 'test-codec-token-7f3a';

describe('codec server (titan codec-server)', function () {
  let env: TestEnv;
  let server: ChildProcess;
  let base: string;

  before(async () => {
    env = writeTestEnvironment({ redisUrl: 'redis://127.0.0.1:1' });
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    server = spawn(process.execPath, [path.join(repoRoot, 'dist', 'src', 'client.js'), '--config', env.file, 'codec-server', '--port', String(port), '--ui-origin', UI_ORIGIN], {
      env: { ...process.env, TITAN_CODEC_TOKEN: TOKEN },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await until('the codec server listening', () => fetch(`${base}/decode`, { method: 'OPTIONS' }).then(() => true, () => undefined), 15_000);
  });
  after(async () => {
    server?.kill('SIGTERM');
    if (server) await once(server, 'exit');
  });

  const post = (route: string, body: string, headers: Record<string, string> = {}) =>
    fetch(`${base}${route}`, { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-namespace': 'titan-test', authorization: `Bearer ${TOKEN}`, ...headers } });
  const asJson = (p: ReturnType<typeof defaultPayloadConverter.toPayload>) => ({
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
    data: Buffer.from(p.data ?? []).toString('base64'),
  });

  /** A refusal: the status, and a JSON body of one line that names the problem and holds no stack trace. */
  async function refused(r: Response, status: number, problem: RegExp) {
    const body = await r.text();
    assert.equal(r.status, status, body);
    const { error } = JSON.parse(body) as { error: string };
    assert.match(error, problem);
    assert.doesNotMatch(body, /\n|at \S+ \(|\.js:\d+/);
  }

  it('encodes to binary/encrypted and decodes back, for the UI origin and for the CLI (no Origin)', async () => {
    const plain = asJson(defaultPayloadConverter.toPayload({ backup: 'main-20261203T000000Z-abcd' }));
    const enc = await post('/encode', JSON.stringify({ payloads: [plain] }), { origin: UI_ORIGIN });
    assert.equal(enc.status, 200);
    assert.equal(enc.headers.get('access-control-allow-origin'), UI_ORIGIN);
    const encoded = (await enc.json()) as { payloads: { metadata: Record<string, string>; data: string }[] };
    assert.equal(Buffer.from(encoded.payloads[0]!.metadata.encoding!, 'base64').toString(), 'binary/encrypted');
    assert.ok(!Buffer.from(encoded.payloads[0]!.data, 'base64').toString('latin1').includes('main-2026'));
    const dec = await post('/decode', JSON.stringify(encoded));
    assert.equal(dec.status, 200);
    assert.deepEqual(await dec.json(), { payloads: [plain] });
  });

  it("answers the UI's CORS preflight: POST, content-type, x-namespace", async () => {
    const r = await fetch(`${base}/decode`, { method: 'OPTIONS', headers: { origin: UI_ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-namespace' } });
    assert.equal(r.status, 204);
    assert.equal(r.headers.get('access-control-allow-origin'), UI_ORIGIN);
    assert.match(r.headers.get('access-control-allow-methods')!, /\bPOST\b/);
    const allowed = r.headers.get('access-control-allow-headers')!.split(/,\s*/);
    for (const h of ['content-type', 'x-namespace']) assert.ok(allowed.includes(h), `${h} allowed`);
  });

  it('refuses another origin, a missing or wrong token, and malformed bodies with a 4xx', async () => {
    const ok = JSON.stringify({ payloads: [] });
    await refused(await post('/decode', ok, { origin: 'http://evil.example' }), 403, /^origin http:\/\/evil\.example not allowed$/);
    const pre = await fetch(`${base}/decode`, { method: 'OPTIONS', headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' } });
    assert.equal(pre.status, 403);
    assert.equal(pre.headers.get('access-control-allow-origin'), null);
    await refused(await post('/decode', ok, { authorization: '' }), 401, /bearer token/);
    await refused(await post('/decode', ok, { authorization: 'Bearer wrong' }), 401, /bearer token/);
    await refused(await post('/decode', '{"payloads": [', {}), 400, /^body is not JSON$/);
    await refused(await post('/decode', '{"items": []}'), 400, /must be \{"payloads": \[\.\.\.\]\}/);
    await refused(await post('/decode', JSON.stringify({ payloads: [{ metadata: { encoding: '%%%' }, data: '' }] })), 400, /payloads\[0\]\.metadata\.encoding must be base64/);
    await refused(await post('/decode', JSON.stringify({ payloads: [{ metadata: { encoding: Buffer.from('binary/encrypted').toString('base64'), 'encryption-key-id': Buffer.from('gone').toString('base64') }, data: Buffer.alloc(40).toString('base64') }] })), 400, /payload key gone not configured/);
    await refused(await post('/decode', ok, { 'content-type': 'text/plain' }), 415, /application\/json/);
    await refused(await fetch(`${base}/decode`), 405, /POST only/);
    await refused(await post('/other', ok), 404, /\/encode and \/decode/);
  });
});
