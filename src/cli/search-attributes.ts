// `titan search-attributes apply`: registers Titan's search attributes (lib/search-attributes.json,
// the list the local stack gives the dev server) on the namespace of a self-hosted Temporal, as
// docker-compose.yml's titan-setup service does. Temporal Cloud registers them through its own
// API (tcld namespace search-attributes add), not through this.
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { SEARCH_ATTRIBUTES, type SearchAttributeName } from '../lib/names';

const { IndexedValueType } = temporal.api.enums.v1;

export interface SearchAttributeReport { added: string[]; present: string[] }

export async function applySearchAttributes(client: Client): Promise<SearchAttributeReport> {
  const ops = client.connection.operatorService;
  const namespace = client.options.namespace;
  const existing = (await ops.listSearchAttributes({ namespace })).customAttributes ?? {};
  const report: SearchAttributeReport = { added: [], present: [] };
  const missing: Record<string, temporal.api.enums.v1.IndexedValueType> = {};
  for (const [name, type] of (Object.entries(SEARCH_ATTRIBUTES) as [SearchAttributeName, string][]).sort(([a], [b]) => a.localeCompare(b))) {
    const want = IndexedValueType[`INDEXED_VALUE_TYPE_${type.toUpperCase()}` as keyof typeof IndexedValueType];
    const have = existing[name];
    if (have === undefined) missing[name] = want;
    else if (have !== want) throw new Error(`search attribute ${name} exists on namespace ${namespace} as ${IndexedValueType[have]}, not ${type}`);
    else report.present.push(name);
  }
  if (Object.keys(missing).length) {
    await ops.addSearchAttributes({ namespace, searchAttributes: missing });
    report.added.push(...Object.keys(missing));
  }
  return report;
}
