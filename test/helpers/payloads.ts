// Reading payloads as the tests see them on the wire: decoded with a client's keys (heartbeat
// details, last failures, query results), or raw, to prove nothing readable reaches the history.
import type { Client } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { decodeFromPayloadsAtIndex, decodeOptionalFailureToOptionalError } from '@temporalio/common/lib/internal-non-workflow';
import type { temporal } from '@temporalio/proto';
import { ENCRYPTED_ENCODING } from '../../src/infra/payload-codec';
import { temporalCli } from './stack';

type PendingActivity = temporal.api.workflow.v1.IPendingActivityInfo;

/** A pending activity's first heartbeat detail, decoded. */
export async function heartbeatOf<T>(client: Client, pending: PendingActivity | undefined): Promise<T | undefined> {
  const payloads = pending?.heartbeatDetails?.payloads;
  return payloads?.length ? decodeFromPayloadsAtIndex<T>(client.options.loadedDataConverter, 0, payloads) : undefined;
}

/** A pending activity's last failure message, decoded (failure-converter.ts moves it into a payload). */
export async function lastFailureOf(client: Client, pending: PendingActivity | undefined): Promise<string | undefined> {
  return (await decodeOptionalFailureToOptionalError(client.options.loadedDataConverter, pending?.lastFailure))?.message;
}

/** A raw query result's first payload, decoded. */
export function decodeFirst<T>(client: Client, payloads: Payload[] | null | undefined): Promise<T | undefined> {
  return payloads?.length ? decodeFromPayloadsAtIndex<T>(client.options.loadedDataConverter, 0, payloads) : Promise.resolve(undefined);
}

export interface RawPayload { path: string; encoding: string; text: string }

/**
 * Every payload in a history as `temporal workflow show --output json` prints it (proto JSON:
 * metadata values and data in base64), with its JSON path, its encoding and its bytes as text.
 * Search attributes are listed too (path under `searchAttributes`), so a scan can tell them apart.
 */
export function rawPayloads(node: unknown, path = '$', out: RawPayload[] = []): RawPayload[] {
  if (!node || typeof node !== 'object') return out;
  const o = node as Record<string, unknown>;
  const meta = o.metadata as Record<string, unknown> | undefined;
  if (meta && typeof meta === 'object' && typeof meta.encoding === 'string') {
    const b64 = (v: unknown) => (typeof v === 'string' ? Buffer.from(v, 'base64').toString('latin1') : '');
    out.push({ path, encoding: b64(meta.encoding), text: [b64(o.data), ...Object.values(meta).map(b64)].join(' ') });
    return out;
  }
  for (const [k, v] of Object.entries(o)) rawPayloads(v, Array.isArray(o) ? `${path}[${k}]` : `${path}.${k}`, out);
  return out;
}

export const isSearchAttribute = (p: RawPayload) => /\.searchAttributes\b/.test(p.path);
/**
 * patched() markers: written by the SDK's core, not through the codec, holding only the patch id
 * (a name in Titan's code) and a flag. Plaintext by design of the SDK; still scanned for markers.
 */
export const isPatchMarker = (p: RawPayload) => /\.markerRecordedEventAttributes\.details\.patch-data\b/.test(p.path);

/**
 * A raw history checked for leaks: the payloads (search attributes aside) that are not encrypted,
 * and every marker found in a payload's bytes or anywhere else in the JSON text (failure
 * messages, identities…), search attributes excepted (they are plaintext by design).
 */
export function scanHistory(historyJson: unknown, markers: string[]): { payloads: number; plaintext: RawPayload[]; leaks: { marker: string; where: string }[] } {
  const payloads = rawPayloads(historyJson).filter((p) => !isSearchAttribute(p));
  const rest = JSON.stringify(historyJson, (k, v: unknown) => (k === 'searchAttributes' ? undefined : v));
  const leaks = markers.flatMap((marker) => [
    ...payloads.filter((p) => p.text.includes(marker)).map((p) => ({ marker, where: p.path })),
    ...(rest.includes(marker) ? [{ marker, where: 'history JSON outside search attributes' }] : []),
  ]);
  return { payloads: payloads.length, plaintext: payloads.filter((p) => p.encoding !== ENCRYPTED_ENCODING && !isPatchMarker(p)), leaks };
}

/**
 * Every workflow of a task queue, read raw as an operator without the codec would
 * (`temporal workflow show --output json --no-json-shorthand-payloads`), scanned for `markers`.
 */
export async function scanTaskQueue(client: Client, taskQueue: string, markers: string[]) {
  const ids: string[] = [];
  for await (const w of client.workflow.list({ query: `TaskQueue = "${taskQueue}"` })) ids.push(w.workflowId);
  const total = { workflows: ids.length, payloads: 0, plaintext: [] as RawPayload[], leaks: [] as { marker: string; where: string }[] };
  for (const id of ids) {
    const r = scanHistory(JSON.parse(temporalCli('workflow', 'show', '--workflow-id', id, '--output', 'json', '--no-json-shorthand-payloads')), markers);
    total.payloads += r.payloads;
    total.plaintext.push(...r.plaintext.map((p) => ({ ...p, path: `${id} ${p.path}` })));
    total.leaks.push(...r.leaks.map((l) => ({ ...l, where: `${id} ${l.where}` })));
  }
  return total;
}
