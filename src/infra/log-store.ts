// The central log store: one interface, two implementations. VictoriaLogs (here) takes the
// Elasticsearch bulk protocol and answers LogsQL; an Elasticsearch-API cluster (Elasticsearch,
// OpenSearch) is es-log-store.ts. Graylog GELF and Splunk HEC are not implemented (cannot be
// tested here; see docs/known-limits.md).
import { type EngineTime, normalizeTime, retentionDays } from '../lib/log-lines';
import type { StoreRetention } from '../lib/log-verdicts';

/** One line as stored: `titan_id` makes delivery idempotent (see log-source.ts). */
export interface StoredLine {
  time: EngineTime;
  message: string;
  titan_id: string;
  container: string;
  stream: 'stdout' | 'stderr';
  module: string;
}

export interface LogWindow {
  module: string;
  /** Inclusive bounds; `from` undefined: since the first line. */
  from?: EngineTime;
  until: EngineTime;
}

/** What a bulk write did: lines stored now, and lines the store refused as copies of stored ones. */
export interface WriteResult { stored: number; alreadyStored: number }

export interface LogStore {
  readonly description: string;
  /**
   * The store refuses a second copy of a line id itself (Elasticsearch `create` with `_id`): the
   * shipper sends every line and counts the refusals, instead of looking ids up first.
   */
  readonly deduplicates: boolean;
  write(lines: StoredLine[]): Promise<WriteResult>;
  /** Makes every acknowledged line visible to queries. */
  flush(): Promise<void>;
  /** The module's newest stored line: the shipping checkpoint. */
  newest(module: string): Promise<{ time: EngineTime; container: string } | undefined>;
  /** Which of these ids (all of lines in [from, to]) the store holds. */
  existing(module: string, ids: string[], from: EngineTime, to: EngineTime): Promise<Set<string>>;
  /** Every id stored in the window. */
  ids(w: LogWindow): Promise<Set<string>>;
  /** Lines and distinct ids in the window (a difference means duplicates). */
  counts(w: LogWindow): Promise<{ lines: number; distinct: number }>;
  /** Lines per minute in the window ("2026-12-01T20:11" → n). */
  perMinute(w: LogWindow): Promise<Map<string, number>>;
  /** Whether a line with exactly this text was stored for the module. */
  contains(module: string, message: string): Promise<boolean>;
  /** How long the store keeps lines (days undefined: unknown, `note` says why). */
  retention(): Promise<StoreRetention>;
}

/** Ids per LogsQL `in(…)` filter: keeps each query well under URL and request limits. */
export const IDS_PER_QUERY = 400;

export class VictoriaLogsStore implements LogStore {
  readonly description: string;
  readonly deduplicates = false;

  constructor(
    private readonly url: string,
    /** Every line carries it, so one store can hold several Titan environments (and drills). */
    private readonly environment: string,
    private readonly authorization?: string,
  ) {
    this.description = `VictoriaLogs at ${url}`;
  }

  async write(lines: StoredLine[]): Promise<WriteResult> {
    if (lines.length === 0) return { stored: 0, alreadyStored: 0 };
    const body = lines.map((l) => `{"create":{}}\n${JSON.stringify({ '@timestamp': l.time, message: l.message, titan_id: l.titan_id, container: l.container, stream: l.stream, module: l.module, environment: this.environment })}\n`).join('');
    const res = await this.request('/insert/elasticsearch/_bulk?_msg_field=message&_time_field=@timestamp&_stream_fields=environment,module', {
      method: 'POST', body, headers: { 'content-type': 'application/x-ndjson' },
    });
    const reply = (await res.json()) as { errors?: boolean; items?: { create?: { status?: number; error?: unknown } }[] };
    if (reply.errors) {
      const bad = reply.items?.find((i) => (i.create?.status ?? 201) >= 300);
      throw new Error(`${this.description} refused part of a bulk write: ${JSON.stringify(bad?.create?.error ?? bad)}`);
    }
    return { stored: lines.length, alreadyStored: 0 };
  }

  async flush(): Promise<void> {
    await this.request('/internal/force_flush', { method: 'GET' });
  }

  async newest(module: string) {
    const [row] = await this.query<{ _time: string; container: string }>(`${this.scope(module)} | sort by (_time desc) | limit 1 | fields _time, container`);
    return row ? { time: normalizeTime(row._time), container: row.container } : undefined;
  }

  async existing(module: string, ids: string[], from: EngineTime, to: EngineTime): Promise<Set<string>> {
    const found = new Set<string>();
    for (let i = 0; i < ids.length; i += IDS_PER_QUERY) {
      const list = ids.slice(i, i + IDS_PER_QUERY).map((id) => JSON.stringify(id)).join(',');
      const rows = await this.query<{ titan_id: string }>(`${this.scope(module)} _time:[${from}, ${to}] titan_id:in(${list}) | fields titan_id`);
      for (const r of rows) found.add(r.titan_id);
    }
    return found;
  }

  async ids(w: LogWindow): Promise<Set<string>> {
    return new Set((await this.query<{ titan_id: string }>(`${this.window(w)} | fields titan_id`)).map((r) => r.titan_id));
  }

  async counts(w: LogWindow) {
    const [row] = await this.query<{ lines: string; distinct: string }>(`${this.window(w)} | stats count() lines, count_uniq(titan_id) distinct`);
    return { lines: Number(row?.lines ?? 0), distinct: Number(row?.distinct ?? 0) };
  }

  async perMinute(w: LogWindow) {
    const rows = await this.query<{ _time: string; lines: string }>(`${this.window(w)} | stats by (_time:1m) count() lines`);
    return new Map(rows.map((r) => [r._time.slice(0, 16), Number(r.lines)]));
  }

  async contains(module: string, message: string): Promise<boolean> {
    return (await this.query(`${this.scope(module)} _msg:=${JSON.stringify(message)} | limit 1`)).length > 0;
  }

  /** From the `-retentionPeriod` flag the store reports on /metrics. */
  async retention(): Promise<StoreRetention> {
    const text = await (await this.request('/metrics', { method: 'GET' })).text();
    const m = /^flag\{name="retentionPeriod", value="([^"]+)"/m.exec(text);
    if (!m) throw new Error(`${this.description} does not report its retentionPeriod on /metrics`);
    return { days: retentionDays(m[1]!), note: `-retentionPeriod=${m[1]}` };
  }

  private scope(module: string): string {
    return `environment:=${JSON.stringify(this.environment)} module:=${JSON.stringify(module)}`;
  }

  private window(w: LogWindow): string {
    return `${this.scope(w.module)} _time:[${w.from ?? '1970-01-01T00:00:00Z'}, ${w.until}]`;
  }

  private async query<T = unknown>(logsql: string): Promise<T[]> {
    const res = await this.request('/select/logsql/query', { method: 'POST', body: new URLSearchParams({ query: logsql }) });
    const text = await res.text();
    return text.split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as T);
  }

  private async request(path: string, init: RequestInit): Promise<Response> {
    const headers = { ...(init.headers as Record<string, string> | undefined), ...(this.authorization ? { authorization: this.authorization } : {}) };
    let res: Response;
    try {
      res = await fetch(`${this.url}${path}`, { ...init, headers, signal: AbortSignal.timeout(60_000) });
    } catch (err) {
      throw new Error(`${this.description} is unreachable: ${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}`);
    }
    if (!res.ok) throw new Error(`${this.description} answered ${res.status} to ${path.split('?')[0]}: ${(await res.text()).slice(0, 300)}`);
    return res;
  }
}
