// Activities of the fullDisasterRecovery workflow: resolve the plan from the environment file,
// tell the approvers (webhook) that a sign-off is overdue, and store the recovery report beside
// the backups. The timers of the wait live in the workflow, never here.
import type { StageName } from '../lib/config';
import type { RecoveryPlan } from '../lib/recovery-plan';
import type { Deps } from '../deps';
import { storeRecoveryReport } from '../infra/recovery-reports';
import type { NoticeKind, RecoveryReport } from '../lib/recovery-report';

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
  /** Set when the stage waits for a host's worker rather than for a sign-off. */
  waitingFor?: string;
}

export function createRecoveryActivities(deps: Pick<Deps, 'recovery' | 'stores' | 'metrics'>) {
  return {
    async planRecovery(req: { incidentAt?: string }): Promise<RecoveryPlan> {
      return deps.recovery.plan(req);
    },

    /** POSTs the notice; false when no webhook is configured. Failures retry and name neither the URL nor its token. */
    async notifyRecovery(n: RecoveryNotice): Promise<boolean> {
      const hook = deps.recovery.webhook;
      if (!hook) return false;
      const text = `${n.kind === 'escalation' ? 'ESCALATION: ' : ''}Titan recovery ${n.workflowId} (${n.environment}): stage ${n.stage} (attempt ${n.attempt}) `
        + `has waited since ${n.waitingSince} ${n.waitingFor ? `— ${n.waitingFor}` : `for a sign-off from ${n.approvers.join(' or ')}`}`;
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
      const stored = await storeRecoveryReport(deps.stores.primary, req.workflowId, req.runId, req.report);
      // Every recovery and drill ends here (a drill's report is stored by recoveryDrill, not by its child).
      deps.metrics.recoveryReported(req.report);
      return stored;
    },
  };
}
