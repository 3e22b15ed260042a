// The child workflows of one attempt of a recovery stage: one child, or one per part (the redis
// stage restores each instance in its own child, in parallel across hosts). A part that succeeded
// in an earlier attempt is not run again, so a retry restores only the instance that failed. While
// a child's host has no worker, the stage says so and the recovery's reminder/escalation covers it.
import { ChildWorkflowFailure, condition, executeChild, type ChildWorkflowOptions } from '@temporalio/workflow';
import type { PlannedStage, RecoveryPlan } from '../lib/recovery-plan';
import { describeStageResult, type RecoveryStatus, type StageStatus } from '../lib/recovery-report';
import { routesOf, whileOnHosts } from './host-wait';
import { recoveryNotifier } from './sign-off';
import { failureReason } from './steps';

export type ChildOptions = Omit<ChildWorkflowOptions, 'workflowId' | 'args'>;

/** A part's outcome: its result when it succeeded (kept across attempts), else why it failed. */
type PartOutcome = { ok: true; result: unknown; attempt: number } | { ok: false; reason: string };

/** Runs stage attempts' children with host waits made visible; one per recovery. */
export function stageChildren(status: RecoveryStatus, plan: Pick<RecoveryPlan, 'remindAfterMs' | 'escalateAfterMs'>, details: () => void) {
  const notify = recoveryNotifier(status);
  const succeeded = new Map<string, Map<string, { result: unknown; attempt: number }>>();

  /** Reminds, then escalates, while the stage still waits for the same host's worker. */
  const remindWhileWaiting = async (stage: StageStatus, attempt: number, waitingFor: string) => {
    const since = new Date().toISOString();
    const stillWaiting = () => !stage.waitingFor?.includes(waitingFor);
    if (await condition(stillWaiting, plan.remindAfterMs)) return;
    notify(stage, attempt, 'reminder', since, waitingFor);
    if (await condition(stillWaiting, plan.escalateAfterMs - plan.remindAfterMs)) return;
    notify(stage, attempt, 'escalation', since, waitingFor);
  };

  // What each running child waits for; the stage shows them all, once each.
  const waitingByChild = new Map<string, string[]>();
  const child = (stage: StageStatus, attempt: number, type: string, workflowId: string, args: unknown[], options: ChildOptions) =>
    whileOnHosts(routesOf(args[0]), executeChild(type, { ...options, workflowId, args }), (waiting) => {
      const before = new Set(stage.waitingFor);
      waitingByChild.set(workflowId, waiting);
      const all = [...new Set([...waitingByChild.values()].flat())];
      stage.waitingFor = all.length ? all : undefined;
      details();
      for (const w of all) if (!before.has(w)) void remindWhileWaiting(stage, attempt, w);
    });

  /** One attempt: the stage's result (several parts: a result per part) or throws the ChildWorkflowFailure / a summary of the failed parts. */
  return async function runChildren(stage: StageStatus, planned: PlannedStage, attempt: number, childWorkflowId: string, options: ChildOptions): Promise<{ summary: string; results: unknown[] }> {
    if (!planned.parts) {
      const result = await child(stage, attempt, planned.childWorkflowType, childWorkflowId, planned.args, options);
      return { summary: describeStageResult(stage.name, result).summary, results: [result] };
    }
    const done = succeeded.get(stage.name) ?? new Map();
    succeeded.set(stage.name, done);
    const outcomes = await Promise.all(planned.parts.map(async (p): Promise<[string, PartOutcome]> => {
      const before = done.get(p.name);
      if (before) return [p.name, { ok: true, ...before }];
      try {
        const result = await child(stage, attempt, planned.childWorkflowType, `${childWorkflowId}-${p.name}`, p.args, options);
        done.set(p.name, { result, attempt });
        return [p.name, { ok: true, result, attempt }];
      } catch (err) {
        if (!(err instanceof ChildWorkflowFailure)) throw err;
        return [p.name, { ok: false, reason: failureReason(err) }];
      }
    }));
    const summary = outcomes.map(([name, o]) => `${name}: ${o.ok ? `${describeStageResult(stage.name, o.result).summary}${o.attempt < attempt ? ` (attempt ${o.attempt})` : ''}` : `FAILED: ${o.reason}`}`).join('; ');
    if (outcomes.some(([, o]) => !o.ok)) throw new PartsFailed(summary);
    return { summary, results: outcomes.map(([, o]) => (o as { result: unknown }).result) };
  };
}

/** Some parts of a stage failed: the message lists each part's outcome. */
export class PartsFailed extends Error {}
