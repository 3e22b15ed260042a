// The two central log stores the log tests run on, each read with its own query language
// (LogsQL; the Elasticsearch API), independently of Titan's store code, so the same test cases
// prove the same guarantees on both.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { deleteFromStore, LOG_STORE, logsql, storedCounts, victoriaLogsBin } from './log-modules';
import { freePort } from './redis-server';
import { until } from './wait';

export const OPENSEARCH = 'http://127.0.0.1:9200';
/** The index the OpenSearch cases share; every line carries its test environment's label. */
export const TEST_INDEX = 'titan-test-logs';

export interface StoreUnderTest {
  name: string;
  /** The stack service to stop for an outage. */
  service: 'victorialogs' | 'opensearch';
  /** The environment file's `logging.store` (the stack's store, keeping logs ≥ 30 days). */
  section: Record<string, unknown>;
  /** Lines and distinct line ids of the module (up to `until`, inclusive). */
  counts(environment: string, module: string, until?: string): Promise<{ lines: number; distinct: number }>;
  /** Lines whose text starts with `prefix` (of a module or a container): how many, distinct ids, distinct texts. */
  prefixed(environment: string, where: { module?: string; container?: string }, prefix: string): Promise<{ n: number; ids: number; texts: number }>;
  /** Removes the module's lines whose whole text matches `regex` and waits until they are gone. */
  deleteMatching(environment: string, module: string, regex: string): Promise<void>;
  /** A `logging.store` that keeps logs 7 days, and how to remove it afterwards. */
  sevenDayStore(): Promise<{ section: Record<string, unknown>; close(): Promise<void> }>;
}

export const victoriaLogs: StoreUnderTest = {
  name: 'VictoriaLogs',
  service: 'victorialogs',
  section: { victorialogs: { url: LOG_STORE } },
  counts: storedCounts,
  async prefixed(environment, where, prefix) {
    const scope = where.module ? `module:=${JSON.stringify(where.module)}` : `container:=${JSON.stringify(where.container)}`;
    const [row] = await logsql(`environment:=${JSON.stringify(environment)} ${scope} _msg:~${JSON.stringify(`^${prefix}`)} | stats count() n, count_uniq(titan_id) ids, count_uniq(_msg) texts`);
    return { n: Number(row?.n ?? 0), ids: Number(row?.ids ?? 0), texts: Number(row?.texts ?? 0) };
  },
  deleteMatching: (environment, module, regex) => deleteFromStore(`environment:=${JSON.stringify(environment)} module:=${JSON.stringify(module)} _msg:~${JSON.stringify(`^${regex}$`)}`),
  async sevenDayStore() {
    const port = await freePort();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'titan-vl7-'));
    const store = spawn(victoriaLogsBin, [`-httpListenAddr=127.0.0.1:${port}`, `-storageDataPath=${dir}`, '-retentionPeriod=7d', '-loggerLevel=ERROR'], { stdio: 'ignore' });
    await until('the 7-day store', async () => (await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined))?.ok || undefined);
    return {
      section: { victorialogs: { url: `http://127.0.0.1:${port}` } },
      async close() {
        store.kill('SIGTERM');
        await once(store, 'exit');
      },
    };
  },
};

/** A request to the test OpenSearch; throws on any non-2xx answer. */
export async function opensearch<T = Record<string, unknown>>(method: string, path: string, body?: unknown, url = OPENSEARCH): Promise<T> {
  const res = await fetch(`${url}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`OpenSearch ${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

const filters = (environment: string, where: { module?: string; container?: string }) => [
  { term: { environment } },
  ...(where.module ? [{ term: { module: where.module } }] : []),
  ...(where.container ? [{ term: { container: where.container } }] : []),
];

/** Lines, and lines less the copies of duplicated ids (exact: Titan's index template gives one shard). */
async function esCounts(query: unknown, index: string): Promise<{ lines: number; distinct: number }> {
  await opensearch('POST', `/${index}/_refresh`);
  const r = await opensearch<{ hits: { total: { value: number } }; aggregations: { dup: { buckets: { doc_count: number }[] } } }>('POST', `/${index}/_search`, {
    size: 0, track_total_hits: true, query,
    aggs: { dup: { terms: { field: 'titan_id', min_doc_count: 2, size: 10_000 } } },
  });
  const copies = r.aggregations.dup.buckets.reduce((n, b) => n + b.doc_count - 1, 0);
  return { lines: r.hits.total.value, distinct: r.hits.total.value - copies };
}

/** OpenSearch with Titan's lines in `index`. */
export const openSearchStore = (index: string): StoreUnderTest => ({
  name: 'OpenSearch',
  service: 'opensearch',
  // The integ-test distribution has no ISM plugin: the stack declares what a policy would keep.
  section: { elasticsearch: { url: OPENSEARCH, index, declaredRetentionDays: 35 } },
  async counts(environment, module, until) {
    const range = until ? [{ range: { '@timestamp': { lte: until, format: 'strict_date_optional_time_nanos' } } }] : [];
    return esCounts({ bool: { filter: [...filters(environment, { module }), ...range] } }, index);
  },
  async prefixed(environment, where, prefix) {
    const query = { bool: { filter: [...filters(environment, where), { prefix: { 'message.raw': prefix } }] } };
    const { lines, distinct } = await esCounts(query, index);
    const r = await opensearch<{ aggregations: { texts: { value: number } } }>('POST', `/${index}/_search`, { size: 0, query, aggs: { texts: { cardinality: { field: 'message.raw', precision_threshold: 40_000 } } } });
    return { n: lines, ids: distinct, texts: r.aggregations.texts.value };
  },
  async deleteMatching(environment, module, regex) {
    // No delete-by-query in the integ-test distribution (no reindex module): find the ids, bulk-delete them.
    await opensearch('POST', `/${index}/_refresh`);
    const query = { bool: { filter: [...filters(environment, { module }), { regexp: { 'message.raw': regex } }] } };
    const found = await opensearch<{ hits: { hits: { _id: string }[] } }>('POST', `/${index}/_search`, { size: 10_000, _source: false, query });
    const body = found.hits.hits.map((h) => `${JSON.stringify({ delete: { _id: h._id } })}\n`).join('');
    const res = await fetch(`${OPENSEARCH}/${index}/_bulk?refresh=true`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
    if (!res.ok || ((await res.json()) as { errors: boolean }).errors) throw new Error(`deleting ${regex}: ${res.status}`);
    if ((await esCounts(query, index)).lines !== 0) throw new Error(`lines matching ${regex} still stored`);
  },
  // What a lifecycle policy deleting after 7 days gives, declared (the integ-test distribution has no ISM).
  sevenDayStore: async () => ({ section: { elasticsearch: { url: OPENSEARCH, index, declaredRetentionDays: 7 } }, close: async () => undefined }),
});

export const openSearch = openSearchStore(TEST_INDEX);

export const LOG_STORES = [victoriaLogs, openSearch];
