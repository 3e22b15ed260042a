// Recovery and drill reports, stored as Markdown and JSON beside the backups in the primary
// location, so they survive the loss of the Temporal server's history.
import { type RecoveryReport, renderRecoveryReport } from '../lib/recovery-report';
import type { BackupStore } from './backup-store';

/** Where a recovery's report lives in a backup location. */
export function recoveryReportKeys(prefix: string, workflowId: string, runId: string) {
  const dir = `${prefix}_recoveries/${workflowId}/${runId}/`;
  return { markdown: `${dir}report.md`, json: `${dir}report.json` };
}

/** Markdown and JSON; storing again overwrites the same keys. */
export async function storeRecoveryReport(store: BackupStore, workflowId: string, runId: string, report: RecoveryReport): Promise<{ markdownKey: string; jsonKey: string }> {
  const keys = recoveryReportKeys(store.location.prefix, workflowId, runId);
  await store.putText(keys.json, `${JSON.stringify(report, null, 2)}\n`, 'application/json');
  await store.putText(keys.markdown, renderRecoveryReport(report), 'text/markdown; charset=utf-8');
  return { markdownKey: keys.markdown, jsonKey: keys.json };
}

/** The stored report of a recovery: of `runId`, or of its newest run; undefined when none is stored. */
export async function readRecoveryReport(store: BackupStore, workflowId: string, runId?: string): Promise<{ markdown: string; report: RecoveryReport } | undefined> {
  const run = runId ?? (await store.listKeys(`${store.location.prefix}_recoveries/${workflowId}/`))
    .map((o) => /\/([^/]+)\/report\.json$/.exec(o.key)?.[1]).find((r) => r !== undefined);
  if (!run) return undefined;
  const keys = recoveryReportKeys(store.location.prefix, workflowId, run);
  const [json, markdown] = await Promise.all([store.readText(keys.json), store.readText(keys.markdown)]);
  return json && markdown ? { markdown, report: JSON.parse(json) as RecoveryReport } : undefined;
}
