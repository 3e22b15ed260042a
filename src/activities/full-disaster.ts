// Activities of the fullDisasterRecovery workflow: resolve the plan from the environment file,
// tell the approvers (webhook) that a sign-off is overdue, and store the recovery report beside
// the backups. The timers of the wait live in the workflow, never here.
import type { RecoveryPlan, StageName } from '../lib/recovery-plan';
import { type NoticeKind, type RecoveryReport, renderRecoveryReport } from '../lib/recovery-report';
import type { BackupStore } from './backup-store';
import type { Deps } from './deps';

const WEBHOOK_TIMEOUT_MS = 10_000;

/** What the webhook receives (JSON), with a `text` line for chat tools. */
export interface RecoveryNotice {
  kind: NoticeKind;
  workflowId: string;
  environment: string;
  stage: StageName;
  attempt: number;
  waitingSince: string;
  approvers: string[];
}

/** Where a recovery's report lives in a backup location. */
export function recoveryReportKeys(prefix: string, workflowId: string, runId: string) {
  const dir = `${prefix}_recoveries/${workflowId}/${runId}/`;
  return { markdown: `${dir}report.md`, json: `${dir}report.json` };
}

export function createRecoveryActivities(deps: Deps) {
  return {
    async planRecovery(req: { incidentAt?: string }): Promise<RecoveryPlan> {
      return deps.recovery.plan(req);
    },

    /** POSTs the notice; false when no webhook is configured. Failures retry and name neither the URL nor its token. */
    async notifyRecovery(n: RecoveryNotice): Promise<boolean> {
      const hook = deps.recovery.webhook;
      if (!hook) return false;
      const text = `${n.kind === 'escalation' ? 'ESCALATION: ' : ''}Titan recovery ${n.workflowId} (${n.environment}): stage ${n.stage} (attempt ${n.attempt}) `
        + `has waited since ${n.waitingSince} for a sign-off from ${n.approvers.join(' or ')}`;
      let res: Response;
      try {
        res = await fetch(hook.url(), {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ ...n, text }),
          signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
        });
      } catch (err) {
        // fetch's own errors may quote the address; only the failure's code goes on.
        const cause = (err as { cause?: { code?: string } }).cause;
        throw new Error(`recovery webhook (${hook.urlEnv}) unreachable: ${cause?.code ?? (err as Error).name}`);
      }
      await res.body?.cancel();
      if (!res.ok) throw new Error(`recovery webhook (${hook.urlEnv}) answered HTTP ${res.status}`);
      return true;
    },

    /** Markdown and JSON in the primary backup location; a retry overwrites the same keys. */
    async storeRecoveryReport(req: { workflowId: string; runId: string; report: RecoveryReport }): Promise<{ markdownKey: string; jsonKey: string }> {
      const store = deps.stores.primary;
      const keys = recoveryReportKeys(store.location.prefix, req.workflowId, req.runId);
      await store.putText(keys.json, `${JSON.stringify(req.report, null, 2)}\n`, 'application/json');
      await store.putText(keys.markdown, renderRecoveryReport(req.report), 'text/markdown; charset=utf-8');
      // Every recovery and drill ends here (a drill's report is stored by recoveryDrill, not by its child).
      deps.metrics.recoveryReported(req.report);
      return { markdownKey: keys.markdown, jsonKey: keys.json };
    },
  };
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
