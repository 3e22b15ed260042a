// What only the Elasticsearch-API store does, on the stack's real OpenSearch: the store itself
// refuses a re-sent line (409, counted as already stored; nothing stored twice, no lookups; the
// index Titan makes has the bloom filter that answers those lookups for new lines); an
// index mapping one of Titan's fields otherwise fails with the field named; an index without a
// lifecycle policy is reported against the plan's 30 days; wrong credentials are one line.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildDeps } from '../../src/deps';
import { shipModuleLogs } from '../../src/infra/log-ship';
import { normalizeTime } from '../../src/lib/log-lines';
import { titan } from '../helpers/cli';
import { composeFileFor, docker, emit, engineLines, startModule } from '../helpers/log-modules';
import { OPENSEARCH, opensearch, openSearchStore, TEST_INDEX } from '../helpers/log-stores';
import { moduleSection } from '../helpers/module-compose';
import { dockerSocket, uniqueName } from '../helpers/stack';
import { type TestEnv, writeTestEnvironment } from '../helpers/titan-env';
import { until } from '../helpers/wait';

describe('the Elasticsearch-API log store on the real OpenSearch', function () {
  const containers: string[] = [];
  const indices: string[] = [];
  after(async () => {
    for (const id of containers) await docker.getContainer(id).remove({ force: true }).catch(() => undefined);
    for (const i of indices) await opensearch('DELETE', `/${i}`).catch(() => undefined);
  });

  /** An environment with one module `alpha` (its container started when `lines` is given) on this store section. */
  async function setUp(store: Record<string, unknown>, lines?: number, project = uniqueName('es').toLowerCase()): Promise<{ env: TestEnv; container?: string; project: string }> {
    const env = writeTestEnvironment({
      redisUrl: 'redis://127.0.0.1:1', docker: { socketPath: dockerSocket },
      modules: moduleSection(composeFileFor(['alpha']), project),
      logging: { store: { elasticsearch: store } },
    });
    if (lines === undefined) return { env, project };
    const container = await startModule(project, 'alpha');
    containers.push(container);
    await emit(container, 'line', lines);
    await until('the lines reached the engine', async () => engineLines(container).length >= lines + 1 || undefined);
    return { env, container, project };
  }
  const shipAll = (env: TestEnv) =>
    shipModuleLogs(buildDeps(env.loaded).logs(), { module: 'alpha', since: normalizeTime('1970-01-01T00:00:00Z'), until: normalizeTime(new Date().toISOString()) }, undefined, () => undefined);
  /** An index of the test's own, created with these field mappings before Titan sees it. */
  async function foreignIndex(properties: Record<string, unknown>): Promise<string> {
    const index = uniqueName('titan-test-foreign').toLowerCase();
    indices.push(index);
    await opensearch('PUT', `/${index}`, { mappings: { properties } });
    return index;
  }

  it('a re-sent batch: the store refuses every copy (409), Titan counts them as already stored and stores nothing twice', async () => {
    // An index of its own, so it is made from Titan's current template.
    const index = uniqueName('titan-test-resent').toLowerCase();
    indices.push(index);
    const openSearch = openSearchStore(index);
    const store = { url: OPENSEARCH, index, declaredRetentionDays: 35 };
    const { env, project } = await setUp(store, 300);
    const first = await shipAll(env);
    assert.deepEqual([first.read, first.shipped, first.alreadyStored], [301, 301, 0]);
    // Everything again, as a retry after a crash between a write and its heartbeat would send it.
    const again = await shipAll(env);
    assert.deepEqual([again.read, again.shipped, again.alreadyStored], [301, 0, 301], 'every line came back as a 409');
    assert.deepEqual(await openSearch.counts(env.environment, 'alpha'), { lines: 301, distinct: 301 });
    const settings = await opensearch<Record<string, { settings: { index: { optimize_doc_id_lookup?: { fuzzy_set?: { enabled?: string } } } } }>>('GET', `/${index}/_settings`);
    assert.equal(settings[index]?.settings.index.optimize_doc_id_lookup?.fuzzy_set?.enabled, 'true', 'the bloom filter on _id is on');
    // A batch partly stored: only the missing lines are stored, the rest counted as already there.
    await openSearch.deleteMatching(env.environment, 'alpha', 'line 1[0-9][0-9]');
    const partly = await shipAll(env);
    assert.deepEqual([partly.shipped, partly.alreadyStored], [100, 201]);
    assert.deepEqual(await openSearch.counts(env.environment, 'alpha'), { lines: 301, distinct: 301 });

    // The same container's lines under another label: refused copies are not "already stored" there.
    const { env: other } = await setUp(store, undefined, project);
    await assert.rejects(shipAll(other), new RegExp(`line [0-9a-f]{32} is stored already under the label "${env.environment}", not "${other.environment}"`));
    assert.deepEqual(await openSearch.counts(other.environment, 'alpha'), { lines: 0, distinct: 0 });
  });

  it('an index mapping one of Titan\'s fields as another type: one clear error naming the field, before anything is written', async () => {
    const keywordIndex = await foreignIndex({ module: { type: 'long' } });
    const { env } = await setUp({ url: OPENSEARCH, index: keywordIndex, declaredRetentionDays: 35 });
    const status = await titan(['--config', env.file, 'logs', 'status']);
    assert.equal(status.code, 1);
    assert.equal(status.stderr.trim().split('\n').length, 1, status.stderr);
    assert.match(status.stderr, new RegExp(`mapping conflict on field "module" of index ${keywordIndex}: maps it as long, Titan writes keyword`));

    // The text mapped otherwise: Titan's mapping cannot be added, and the error names the field.
    const textIndex = await foreignIndex({ message: { type: 'long' } });
    const { env: env2 } = await setUp({ url: OPENSEARCH, index: textIndex, declaredRetentionDays: 35 }, 5);
    await assert.rejects(shipAll(env2), new RegExp(`mapping conflict on field "message" of index ${textIndex}: illegal_argument_exception: mapper \\[message\\] cannot be changed from type \\[long\\] to \\[text\\]`));
    const stored = await opensearch<{ count: number }>('GET', `/${textIndex}/_count`);
    assert.equal(stored.count, 0, 'nothing written');
  });

  it('an index without a lifecycle policy is reported against the plan\'s 30 days', async () => {
    const { env } = await setUp({ url: OPENSEARCH, index: TEST_INDEX });
    const status = await titan(['--config', env.file, 'logs', 'status']);
    assert.equal(status.code, 2, status.stderr);
    assert.match(status.stdout, /OpenSearch 2\.19\.4 at http:\/\/127\.0\.0\.1:9200 \(index titan-test-logs\) has no lifecycle policy \(ISM not installed\); the plan asks for at least 30 days of logs/);
  });

  it('wrong credentials are one clear line; right ones (basic or API key) are sent as such', async () => {
    // A gate in front of the real OpenSearch (whose integ-test distribution has no security plugin).
    const accepted = new Set([`Basic ${Buffer.from('titan:right-password').toString('base64')}`, 'ApiKey right-key']);
    const gate = http.createServer((req, res) => {
      if (!accepted.has(req.headers.authorization ?? '')) {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":{"type":"security_exception","reason":"unable to authenticate user"},"status":401}');
        return;
      }
      const upstream = http.request(`${OPENSEARCH}${req.url}`, { method: req.method, headers: { ...req.headers, host: '127.0.0.1:9200' } }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => gate.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(gate.address() as AddressInfo).port}`;
    try {
      const basic = { url, index: TEST_INDEX, declaredRetentionDays: 35, usernameEnv: 'TITAN_TEST_ES_USER', passwordEnv: 'TITAN_TEST_ES_PASSWORD' };
      const { env } = await setUp(basic);
      const wrong = await titan(['--config', env.file, 'logs', 'status'], { TITAN_TEST_ES_USER: 'titan', TITAN_TEST_ES_PASSWORD: 'wrong-password' });
      assert.equal(wrong.code, 1);
      assert.equal(wrong.stderr.trim().split('\n').length, 1, wrong.stderr);
      assert.match(wrong.stderr, new RegExp(`at ${url} \\(index titan-test-logs\\) refused Titan's credentials \\(401 unauthorized on GET /\\): check logging\\.store\\.elasticsearch's usernameEnv/passwordEnv or apiKeyEnv`));
      assert.doesNotMatch(wrong.stderr + wrong.stdout, /wrong-password/);

      const right = await titan(['--config', env.file, 'logs', 'status'], { TITAN_TEST_ES_USER: 'titan', TITAN_TEST_ES_PASSWORD: 'right-password' });
      assert.equal(right.code, 0, right.stderr);
      assert.match(right.stdout, new RegExp(`store: OpenSearch 2\\.19\\.4 at ${url} \\(index titan-test-logs\\), keeps 35 days`));
      const { env: keyEnv } = await setUp({ url, index: TEST_INDEX, declaredRetentionDays: 35, apiKeyEnv: 'TITAN_TEST_ES_KEY' });
      assert.equal((await titan(['--config', keyEnv.file, 'logs', 'status'], { TITAN_TEST_ES_KEY: 'right-key' })).code, 0);
      assert.equal((await titan(['--config', keyEnv.file, 'logs', 'status'], { TITAN_TEST_ES_KEY: 'wrong-key' })).code, 1);
    } finally {
      gate.close();
    }
  });
});
