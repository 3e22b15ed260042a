// The central log store as an Elasticsearch-API cluster (Elasticsearch 7/8, OpenSearch 1/2):
// bulk `create` with `_id` = the line id, so the store itself refuses a second copy (409, counted
// as already stored); `_count`, a per-minute date_histogram and id scans to verify; the newest
// line per module as the checkpoint. The index is set up by es-index-setup.ts before first use.
import { normalizeTime, type EngineTime } from '../lib/log-lines';
import type { StoreRetention } from '../lib/log-verdicts';
import { type EsAuth, EsHttp, errorReason } from './es-http';
import { type ClusterInfo, clusterInfo, conflictField, type EsTarget, lifecycleRetention, mappingConflict, setUpIndex } from './es-index-setup';
import type { LogStore, LogWindow, StoredLine, WriteResult } from './log-store';

/** Hits per page when scanning a window's ids (the default index.max_result_window is 10,000). */
const PAGE = 10_000;

interface Hit<S> { _id: string; _source: S; sort?: unknown[] }
interface Hits<S> { hits: { hits: Hit<S>[] } }
interface BulkItem { create?: { _id?: string; status: number; error?: { type?: string; reason?: string; caused_by?: { reason?: string } } } }

export interface ElasticsearchStoreOptions {
  url: string;
  target: EsTarget;
  /** Every line carries it, so one index can hold several Titan environments (and drills). */
  environment: string;
  auth?: EsAuth;
  ca?: Buffer;
  declaredRetentionDays?: number;
}

export class ElasticsearchStore implements LogStore {
  /**
   * An index refuses a second copy of an `_id`; a data stream only within its current write
   * index, so after a rollover Titan looks ids up as it does for VictoriaLogs.
   */
  readonly deduplicates: boolean;
  private readonly es: EsHttp;
  private readonly name: string;
  private ready?: Promise<ClusterInfo>;
  private readonly scans = new Map<string, Promise<Set<string>>>();

  constructor(private readonly o: ElasticsearchStoreOptions) {
    this.name = o.target.index ?? o.target.dataStream;
    this.deduplicates = o.target.index !== undefined;
    this.es = new EsHttp(o.url, `Elasticsearch-API store at ${o.url} (${this.where})`, o.auth, o.ca);
  }

  get description(): string {
    return this.es.description;
  }

  private get where(): string {
    return `${this.o.target.index ? 'index' : 'data stream'} ${this.name}`;
  }

  /** Asks the cluster what it is and sets the index up, once (again after a failure). */
  private setup(): Promise<ClusterInfo> {
    this.ready ??= (async () => {
      const info = await clusterInfo(this.es);
      this.es.description = `${info.distribution === 'opensearch' ? 'OpenSearch' : 'Elasticsearch'} ${info.version} at ${this.o.url} (${this.where})`;
      await setUpIndex(this.es, this.o.target, info);
      return info;
    })();
    this.ready.catch(() => (this.ready = undefined));
    return this.ready;
  }

  async write(lines: StoredLine[]): Promise<WriteResult> {
    if (lines.length === 0) return { stored: 0, alreadyStored: 0 };
    await this.setup();
    const parts: string[] = [];
    for (const l of lines) {
      parts.push(`{"create":{"_id":${JSON.stringify(l.titan_id)}}}`);
      parts.push(JSON.stringify({ '@timestamp': l.time, message: l.message, titan_id: l.titan_id, container: l.container, stream: l.stream, module: l.module, environment: this.o.environment }));
    }
    // filter_path: only what is read of each item, so a 5,000-item reply stays small (worker memory).
    const { body } = await this.es.ndjson<{ errors?: boolean; items?: BulkItem[] }>(`/${enc(this.name)}/_bulk?filter_path=errors,items.*._id,items.*.status,items.*.error`, `${parts.join('\n')}\n`);
    const items = body.items ?? [];
    if (items.length !== lines.length) throw new Error(`${this.description} answered ${items.length} bulk items for ${lines.length} lines`);
    const conflicts: string[] = [];
    let failed: BulkItem['create'];
    for (const [n, i] of items.entries()) {
      const status = i.create?.status ?? 0;
      if (status === 409) conflicts.push(lines[n]!.titan_id);
      else if (status < 200 || status >= 300) failed ??= i.create;
    }
    // Lines of the batch that were stored stay stored: a retry sends them again and gets 409s.
    if (failed) throw new Error(this.bulkFailure(failed, items.length));
    if (conflicts.length) await this.ownCopies(conflicts);
    return { stored: lines.length - conflicts.length, alreadyStored: conflicts.length };
  }

  /** A refused id counts as already stored only if the stored copy is this environment's line. */
  private async ownCopies(ids: string[]): Promise<void> {
    // _mget reads in real time (a copy written a moment ago, not yet refreshed, included); data
    // streams do not take it, so there an ids query after a refresh.
    let copies: { _id: string; environment?: string }[];
    if (this.o.target.index) {
      const { body } = await this.es.json<{ docs: { _id: string; found: boolean; _source?: { environment?: string } }[] }>('POST', `/${enc(this.name)}/_mget?_source_includes=environment`, { ids });
      copies = body.docs.filter((d) => d.found).map((d) => ({ _id: d._id, environment: d._source?.environment }));
    } else {
      await this.es.json('POST', `/${enc(this.name)}/_refresh`);
      const { body } = await this.search<{ environment?: string }>({ size: ids.length, query: { ids: { values: ids } }, _source: ['environment'] });
      copies = body.hits.hits.map((h) => ({ _id: h._id, environment: h._source.environment }));
    }
    const other = copies.find((c) => c.environment !== this.o.environment);
    if (other) {
      throw new Error(`${this.description}: line ${other._id} is stored already under the label "${other.environment}", not "${this.o.environment}": two environments ship the same container's lines into ${this.name}`);
    }
  }

  private bulkFailure(item: NonNullable<BulkItem['create']>, of: number): string {
    const reason = errorReason({ error: item.error }) ?? `status ${item.status}`;
    const field = item.error?.type === 'mapper_parsing_exception' || item.error?.type === 'illegal_argument_exception' ? conflictField(`${item.error.reason}`) : undefined;
    if (field) return mappingConflict(this.description, this.name, field, reason);
    return `${this.description} refused line ${item._id} of a bulk write of ${of} (${item.status}): ${reason}`;
  }

  async flush(): Promise<void> {
    await this.setup();
    await this.es.json('POST', `/${enc(this.name)}/_refresh`);
  }

  async newest(module: string) {
    await this.setup();
    const { body } = await this.search<{ '@timestamp': string; container: string }>({
      size: 1, query: this.scope(module), sort: [{ '@timestamp': 'desc' }], _source: ['@timestamp', 'container'],
    });
    const hit = body.hits.hits[0];
    return hit ? { time: normalizeTime(hit._source['@timestamp']), container: hit._source.container } : undefined;
  }

  async existing(module: string, ids: string[], from: EngineTime, to: EngineTime): Promise<Set<string>> {
    await this.setup();
    const found = new Set<string>();
    for (let i = 0; i < ids.length; i += PAGE) {
      const page = ids.slice(i, i + PAGE);
      const { body } = await this.search<{ titan_id: string }>({
        size: page.length, _source: ['titan_id'],
        query: { bool: { filter: [...this.filters(module), this.range(from, to), { terms: { titan_id: page } }] } },
      });
      for (const h of body.hits.hits) found.add(h._source.titan_id);
    }
    return found;
  }

  ids(w: LogWindow): Promise<Set<string>> {
    return this.scan(w);
  }

  async counts(w: LogWindow) {
    await this.setup();
    const [{ body }, ids] = await Promise.all([
      this.es.json<{ count: number }>('POST', `/${enc(this.name)}/_count`, { query: this.windowQuery(w) }),
      this.scan(w),
    ]);
    // Distinct by a full scan: the cardinality aggregation is approximate above a few thousand ids.
    return { lines: body.count, distinct: ids.size };
  }

  async perMinute(w: LogWindow) {
    await this.setup();
    const { body } = await this.es.json<{ aggregations: { m: { buckets: { key_as_string: string; doc_count: number }[] } } }>('POST', `/${enc(this.name)}/_search`, {
      size: 0, query: this.windowQuery(w),
      aggs: { m: { date_histogram: { field: '@timestamp', fixed_interval: '1m', format: "yyyy-MM-dd'T'HH:mm", time_zone: 'UTC', min_doc_count: 1 } } },
    });
    return new Map(body.aggregations.m.buckets.map((b) => [b.key_as_string, b.doc_count]));
  }

  async contains(module: string, message: string): Promise<boolean> {
    await this.setup();
    const { body } = await this.es.json<{ count: number }>('POST', `/${enc(this.name)}/_count`, {
      query: { bool: { filter: [...this.filters(module), { term: { 'message.raw': message } }] } },
    });
    return body.count > 0;
  }

  async retention(): Promise<StoreRetention> {
    const info = await this.setup();
    return lifecycleRetention(this.es, info, this.name, this.o.declaredRetentionDays);
  }

  /**
   * The ids in the window (each at least once), paged by `search_after` on the id: the sort value
   * is the id, so no document is fetched. Lines are counted by `_count`, so copies skipped at a
   * page boundary still show as duplicates. Callers at the same time (ids and counts of one check)
   * share one scan, and its one set of ids (no array beside it: 500,000 ids are tens of MiB).
   */
  private scan(w: LogWindow): Promise<Set<string>> {
    const key = JSON.stringify(w);
    let running = this.scans.get(key);
    if (!running) {
      running = this.scanOnce(w).finally(() => this.scans.delete(key));
      this.scans.set(key, running);
    }
    return running;
  }

  private async scanOnce(w: LogWindow): Promise<Set<string>> {
    await this.setup();
    const out = new Set<string>();
    let after: unknown[] | undefined;
    for (;;) {
      const { body } = await this.search<never>({
        size: PAGE, query: this.windowQuery(w), _source: false, sort: [{ titan_id: 'asc' }], track_total_hits: false,
        ...(after ? { search_after: after } : {}),
      });
      const hits = body.hits.hits;
      for (const h of hits) out.add(h.sort![0] as string);
      if (hits.length < PAGE) return out;
      after = hits.at(-1)!.sort;
    }
  }

  private search<S>(query: Record<string, unknown>) {
    return this.es.json<Hits<S>>('POST', `/${enc(this.name)}/_search`, query);
  }

  private filters(module: string) {
    return [{ term: { environment: this.o.environment } }, { term: { module } }];
  }

  private scope(module: string) {
    return { bool: { filter: this.filters(module) } };
  }

  private range(from: EngineTime | undefined, to: EngineTime) {
    return { range: { '@timestamp': { ...(from ? { gte: from } : {}), lte: to, format: 'strict_date_optional_time_nanos' } } };
  }

  private windowQuery(w: LogWindow) {
    return { bool: { filter: [...this.filters(w.module), this.range(w.from, w.until)] } };
  }
}

const enc = encodeURIComponent;
