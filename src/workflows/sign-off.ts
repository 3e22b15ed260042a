// Human verification between recovery stages: the signOff Update (its synchronous validator keeps
// refused sign-offs out of history), the same payload as a Signal for tools that can only signal,
// the recoveryStatus Query, and the wait itself — reminders and an escalation by timers, so the
// wait is plain workflow state and survives worker and server restarts.
import { ApplicationFailure, condition, log, setCurrentDetails, setHandler, workflowInfo } from '@temporalio/workflow';
import { recoveryStatusQuery, signOffSignal, signOffUpdate } from '../lib/messages';
import type { RecoveryPlan } from '../lib/recovery-plan';
import { STAGES } from '../lib/config';
import { type Decision, DECISIONS, type NoticeKind, type RecoveryStatus, type SignedOff, type SignOff, type StageStatus } from '../lib/recovery-report';
import { ErrorType } from '../lib/errors';
import { failureReason, quickStep } from './steps';

/** Why this sign-off cannot be accepted now; undefined when it can. */
export function signOffRefusal(status: RecoveryStatus, s: unknown): string | undefined {
  if (typeof s !== 'object' || s === null) return 'a sign-off is { stage, decision, by, comment? }';
  const { stage, decision, by, comment } = s as Record<string, unknown>;
  if (!STAGES.includes(stage as never)) return `stage must be one of ${STAGES.join(', ')}, not ${JSON.stringify(stage)}`;
  if (!DECISIONS.includes(decision as never)) return `decision must be one of ${DECISIONS.join(', ')}, not ${JSON.stringify(decision)}`;
  if (typeof by !== 'string' || by.trim() === '') return 'by must name who signs off';
  if (comment !== undefined && typeof comment !== 'string') return 'comment must be text';
  const w = status.waiting;
  if (!w) return `no stage is waiting for a sign-off${status.current ? ` (stage ${status.current} is running)` : ''}`;
  if (stage !== w.stage) return `stage ${stage} is not waiting for a sign-off; stage ${w.stage} is`;
  if (!w.approvers.includes(by)) return `${by} is not an approver for stage ${stage} (approvers: ${w.approvers.join(', ')})`;
  if (!w.decisions.includes(decision as Decision)) return `${decision} is not possible: stage ${stage} failed; retry it or reject (abort the recovery)`;
  return undefined;
}

/** A refusal as the client sees it: the reason, without a worker stack trace in the Web UI. */
function refused(reason: string): ApplicationFailure {
  const failure = ApplicationFailure.nonRetryable(reason, ErrorType.SignOffRefused);
  failure.stack = '';
  return failure;
}

/** Sends a reminder or escalation for a stage to the webhook and records it on the stage; `waitingFor` when it waits for a host's worker, not a person. */
export function recoveryNotifier(status: RecoveryStatus) {
  return (stage: StageStatus, attempt: number, kind: NoticeKind, waitingSince: string, waitingFor?: string) => {
    const notice = { kind, at: new Date().toISOString(), delivered: false };
    stage.notices.push(notice);
    // Not awaited: a webhook that is down must not delay (or fail) the wait.
    void quickStep(`send the ${kind} for stage ${stage.name} to the webhook`)
      .notifyRecovery({ kind, workflowId: workflowInfo().workflowId, environment: status.environment, stage: stage.name, attempt, waitingSince, approvers: stage.approvers, ...(waitingFor ? { waitingFor } : {}) })
      .then((sent) => { notice.delivered = sent; }, (err) => { status.warnings.push(`${kind} for stage ${stage.name} not delivered: ${failureReason(err)}`); });
  };
}

/**
 * Registers the sign-off handlers and the Query on `status`; returns the wait for one stage's sign-off.
 * With `autoSigner` (drills), nothing waits: a verified stage is approved and a failed one rejected by it.
 */
export function acceptSignOffs(status: RecoveryStatus, plan: Pick<RecoveryPlan, 'remindAfterMs' | 'escalateAfterMs'>, autoSigner?: string) {
  let received: SignedOff | undefined;
  const accept = (s: SignOff, via: SignedOff['via']): SignedOff => {
    const w = status.waiting!;
    received = { stage: s.stage, decision: s.decision, by: s.by, ...(s.comment ? { comment: s.comment } : {}), attempt: w.attempt, at: new Date().toISOString(), via };
    status.stages.find((x) => x.name === s.stage)!.signOffs.push(received);
    status.waiting = undefined;
    return received;
  };
  const check = (s: SignOff) => {
    const why = signOffRefusal(status, s);
    if (why) throw refused(why);
  };
  // The handler checks again: two sign-offs validated in the same workflow task must not both count.
  setHandler(signOffUpdate, (s) => (check(s), accept(s, 'update')), { validator: check, description: 'Approve, reject or retry the stage waiting for sign-off' });
  setHandler(signOffSignal, (s) => {
    const why = signOffRefusal(status, s);
    if (why) log.warn(`sign-off signal ignored: ${why}`, { signOff: s });
    else accept(s, 'signal');
  }, { description: 'The signOff Update as a Signal, for tools that can only signal; invalid ones are ignored' });
  setHandler(recoveryStatusQuery, () => status, { description: 'Stages, attempts, sign-offs, and what the recovery waits for from whom' });

  const notify = recoveryNotifier(status);

  /** Waits until an approver decides on the stage; reminds, escalates, then keeps waiting. */
  return async function waitForSignOff(stage: StageStatus, attempt: number, decisions: Decision[]): Promise<SignedOff> {
    received = undefined;
    const since = new Date().toISOString();
    if (autoSigner) {
      status.waiting = { stage: stage.name, attempt, since, approvers: [autoSigner], decisions };
      const approve = decisions.includes('approve');
      return accept({ stage: stage.name, decision: approve ? 'approve' : 'reject', by: autoSigner, comment: approve ? 'verified by the stage' : 'the stage failed: the drill ends here' }, 'auto');
    }
    status.waiting = { stage: stage.name, attempt, since, approvers: stage.approvers, decisions };
    const who = stage.approvers.join(' or ');
    const details = (after = '') => setCurrentDetails(
      `Waiting since ${since} for **${who}** to sign off stage **${stage.name}** (attempt ${attempt}): ${decisions.join(', ')}${after}\n\n`
      + `\`titan sign-off --stage ${stage.name} --${decisions[0]} --by <you>\``);
    details();
    const signed = () => received !== undefined;
    if (!(await condition(signed, plan.remindAfterMs, { summary: `remind ${who} to sign off ${stage.name}` }))) {
      notify(stage, attempt, 'reminder', since);
      details(`; reminded at ${new Date().toISOString()}`);
      if (!(await condition(signed, plan.escalateAfterMs - plan.remindAfterMs, { summary: `escalate the sign-off of ${stage.name}` }))) {
        notify(stage, attempt, 'escalation', since);
        details(`; escalated at ${new Date().toISOString()}`);
        await condition(signed);
      }
    }
    return received!;
  };
}
