// The index Titan owns in an Elasticsearch-API store: an index template with keyword mappings,
// then the index or data stream, created idempotently before the first write; the check that an
// existing index maps Titan's fields as Titan needs; and the retention its lifecycle policy
// (ILM on Elasticsearch, ISM on OpenSearch) gives.
import { ApplicationFailure } from '@temporalio/common';
import { ErrorType } from '../lib/errors';
import type { StoreRetention } from '../lib/log-verdicts';
import { errorReason, type EsHttp } from './es-http';

export type EsTarget = { index: string; dataStream?: undefined } | { dataStream: string; index?: undefined };

/** Titan's fields and the types it reads them with (`@timestamp` keeps the engine's nanoseconds). */
export const FIELD_TYPES: Record<string, string[]> = {
  '@timestamp': ['date_nanos', 'date'],
  titan_id: ['keyword'],
  environment: ['keyword'],
  module: ['keyword'],
  container: ['keyword'],
  stream: ['keyword'],
};

const MAPPINGS = {
  dynamic: false,
  properties: {
    '@timestamp': { type: 'date_nanos' },
    titan_id: { type: 'keyword' },
    environment: { type: 'keyword' },
    module: { type: 'keyword' },
    container: { type: 'keyword' },
    stream: { type: 'keyword' },
    // Full text for people; `raw` finds a canary by its exact text.
    message: { type: 'text', fields: { raw: { type: 'keyword', ignore_above: 8191 } } },
  },
};

export interface ClusterInfo { distribution: 'opensearch' | 'elasticsearch'; version: string }

export async function clusterInfo(es: EsHttp): Promise<ClusterInfo> {
  const { body } = await es.json<{ version?: { number?: string; distribution?: string } }>('GET', '/');
  return { distribution: body.version?.distribution === 'opensearch' ? 'opensearch' : 'elasticsearch', version: body.version?.number ?? '?' };
}

/**
 * Every line is written with `create` and its own `_id`, so the store looks each id up before
 * indexing it; in a first backfill none is there. OpenSearch ≥ 2.13 can answer "not there" from a
 * bloom filter on `_id` instead of searching every segment's terms (measured in
 * docs/benchmarks.md); Elasticsearch has no such setting.
 */
export function indexSettings(info: ClusterInfo): Record<string, unknown> {
  const [major = 0, minor = 0] = info.version.split('.').map(Number);
  const bloom = info.distribution === 'opensearch' && (major > 2 || (major === 2 && minor >= 13));
  return { number_of_shards: 1, ...(bloom ? { 'index.optimize_doc_id_lookup.fuzzy_set.enabled': true } : {}) };
}

/** The template (always rewritten: it is Titan's), then the index or data stream unless it exists, then its mapping checked and completed. */
export async function setUpIndex(es: EsHttp, target: EsTarget, info: ClusterInfo): Promise<void> {
  const name = target.index ?? target.dataStream;
  await es.json('PUT', `/_index_template/titan-logs-${name}`, {
    index_patterns: [name],
    priority: 500,
    ...(target.dataStream ? { data_stream: {} } : {}),
    template: { settings: indexSettings(info), mappings: MAPPINGS },
    _meta: { managed_by: 'titan-recovery' },
  });
  const created = target.index
    ? await es.json('PUT', `/${enc(name)}`, {}, [400])
    : await es.json('PUT', `/_data_stream/${enc(name)}`, undefined, [400]);
  if (created.status === 400 && !/already_exists/.test(JSON.stringify(created.body))) {
    throw new Error(`${es.description} could not create ${target.index ? 'index' : 'data stream'} ${name}: ${JSON.stringify(created.body).slice(0, 300)}`);
  }
  await checkMappings(es, name);
  // An index made before the template lacks Titan's fields or maps them dynamically: add them.
  const added = await es.json('PUT', `/${enc(name)}/_mapping`, { properties: MAPPINGS.properties }, [400]);
  if (added.status === 400) {
    const reason = errorReason(added.body) ?? JSON.stringify(added.body).slice(0, 300);
    const field = /mapper \[([^\]]+)\]/.exec(reason)?.[1];
    if (!field) throw new Error(`${es.description} refused Titan's mappings for ${name}: ${reason}`);
    throw ApplicationFailure.nonRetryable(mappingConflict(es.description, name, field, reason), ErrorType.LogStoreMappingConflict);
  }
}

/** An index made before Titan's template (or by hand) may map a field otherwise: one clear error naming it. */
async function checkMappings(es: EsHttp, name: string): Promise<void> {
  const { body } = await es.json<Record<string, { mappings?: { properties?: Record<string, { type?: string }> } }>>('GET', `/${enc(name)}/_mapping`);
  for (const [index, m] of Object.entries(body)) {
    for (const [field, types] of Object.entries(FIELD_TYPES)) {
      const type = m.mappings?.properties?.[field]?.type ?? (m.mappings?.properties?.[field] ? 'object' : undefined);
      if (type !== undefined && !types.includes(type)) {
        throw ApplicationFailure.nonRetryable(mappingConflict(es.description, index, field, `maps it as ${type}, Titan writes ${types[0]}`), ErrorType.LogStoreMappingConflict);
      }
    }
  }
}

export const mappingConflict = (store: string, index: string, field: string, detail: string) =>
  `${store}: mapping conflict on field "${field}" of index ${index}: ${detail}`;

/** The field a bulk item's mapping error is about ("failed to parse field [module] of type [long]…"). */
export function conflictField(reason: string): string | undefined {
  return /field \[([^\]]+)\]/.exec(reason)?.[1];
}

/**
 * The days before the lifecycle policy of the target's (write) index deletes it: the smallest
 * `min_age` of an ILM delete phase, or of an ISM transition into a state that deletes.
 */
export async function lifecycleRetention(es: EsHttp, info: ClusterInfo, name: string, declaredDays?: number): Promise<StoreRetention> {
  const found = info.distribution === 'opensearch' ? await ismRetention(es, name) : await ilmRetention(es, name);
  if (found.days !== undefined || declaredDays === undefined) return found;
  return { days: declaredDays, note: `declared in the environment file; ${found.note}` };
}

async function ismRetention(es: EsHttp, name: string): Promise<StoreRetention> {
  const explain = await es.json<Record<string, { 'index.plugins.index_state_management.policy_id'?: string; policy_id?: string } | boolean>>('GET', `/_plugins/_ism/explain/${enc(name)}`, undefined, [400, 404]);
  if (explain.status !== 200) return { note: 'no lifecycle policy (ISM not installed)' };
  const policyIds = Object.values(explain.body).flatMap((v) => (typeof v === 'object' && v ? [v['index.plugins.index_state_management.policy_id'] ?? v.policy_id] : [])).filter((p): p is string => !!p);
  if (policyIds.length === 0) return { note: 'no lifecycle policy (no ISM policy attached)' };
  const { body } = await es.json<{ policy?: { states?: { name: string; actions?: Record<string, unknown>[]; transitions?: { state_name: string; conditions?: { min_index_age?: string } }[] }[] } }>('GET', `/_plugins/_ism/policies/${enc(policyIds[0]!)}`);
  const states = body.policy?.states ?? [];
  const deleting = new Set(states.filter((s) => s.actions?.some((a) => 'delete' in a)).map((s) => s.name));
  const ages = states.flatMap((s) => s.transitions ?? []).filter((t) => deleting.has(t.state_name)).map((t) => ageDays(t.conditions?.min_index_age ?? '0d'));
  return ages.length ? { days: Math.min(...ages), note: `ISM policy ${policyIds[0]}` } : { note: `ISM policy ${policyIds[0]} never deletes` };
}

async function ilmRetention(es: EsHttp, name: string): Promise<StoreRetention> {
  const explain = await es.json<{ indices?: Record<string, { policy?: string; managed?: boolean }> }>('GET', `/${enc(name)}/_ilm/explain`, undefined, [400, 404]);
  if (explain.status !== 200) return { note: 'no lifecycle policy (ILM not available)' };
  const policy = Object.values(explain.body.indices ?? {}).find((i) => i.managed && i.policy)?.policy;
  if (!policy) return { note: 'no lifecycle policy (no ILM policy attached)' };
  const { body } = await es.json<Record<string, { policy?: { phases?: { delete?: { min_age?: string } } } }>>('GET', `/_ilm/policy/${enc(policy)}`);
  const del = body[policy]?.policy?.phases?.delete;
  return del ? { days: ageDays(del.min_age ?? '0d'), note: `ILM policy ${policy}` } : { note: `ILM policy ${policy} never deletes` };
}

/** An Elasticsearch time unit ("30d", "720h", "1m" is minutes) in days. */
export function ageDays(age: string): number {
  const m = /^(\d+(?:\.\d+)?)(d|h|m|s|ms|micros|nanos)$/.exec(age.trim());
  if (!m) throw new Error(`"${age}" is not an Elasticsearch time value`);
  const perDay: Record<string, number> = { d: 1, h: 24, m: 1440, s: 86_400, ms: 86_400_000, micros: 86_400_000_000, nanos: 86_400_000_000_000 };
  return Number(m[1]) / perDay[m[2]!]!;
}

const enc = encodeURIComponent;
