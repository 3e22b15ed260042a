// A retired module container's log, kept in the primary backup location before a redeploy removes
// the container: what a dead module wrote after its last shipment (the central store may have
// been down too) would otherwise go with it. Lines keep their engine time and stream, and the
// container's id, so they get the same ids as if read from the engine, and the logs stage ships
// and verifies them like any other source. Dropped once the logs stage has verified the module.
import { Readable } from 'node:stream';
import { createInterface } from 'node:readline';
import type Docker from 'dockerode';
import { type EngineTime, normalizeTime } from '../lib/log-lines';
import type { BackupStore } from './backup-store';
import { type EngineLine, engineLines } from './log-source';

const PART_BYTES = 8 * 1024 * 1024;

export const spoolDir = (store: BackupStore, project: string, module: string) => `${store.location.prefix}_log-spool/${project}/${module}/`;

/** Streams the container's whole log into `<prefix>_log-spool/<project>/<module>/<container>.ndjson`; a retry overwrites it. */
export async function spoolContainerLog(docker: Docker, store: BackupStore, project: string, module: string, container: string): Promise<void> {
  const until = normalizeTime(new Date(Date.now() + 1000).toISOString());
  const body = Readable.from((async function* () {
    for await (const l of engineLines(docker, container, { until })) yield `${JSON.stringify(l)}\n`;
  })());
  await store.newUpload(`${spoolDir(store, project, module)}${container}.ndjson`, body, PART_BYTES, 2).done();
}

export interface SpooledContainer { id: string; key: string; spooledAt: string }

export async function spooledContainers(store: BackupStore, project: string, module: string): Promise<SpooledContainer[]> {
  const dir = spoolDir(store, project, module);
  return (await store.listKeys(dir))
    .map((o) => ({ id: o.key.slice(dir.length, -'.ndjson'.length), key: o.key, spooledAt: (o.lastModified ?? new Date(0)).toISOString() }))
    .filter((s) => /^[0-9a-f]{64}$/.test(s.id));
}

/** The spooled lines with times in [since, until], in the order written. */
export async function* spooledLines(store: BackupStore, key: string, window: { since?: EngineTime; until: EngineTime }): AsyncGenerator<EngineLine> {
  for await (const raw of createInterface({ input: await store.getObject(key), crlfDelay: Infinity })) {
    if (!raw) continue;
    const l = JSON.parse(raw) as EngineLine;
    if ((window.since === undefined || l.time >= window.since) && l.time <= window.until) yield l;
  }
}
