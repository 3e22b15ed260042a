// The Queries, the Update and the Signal of Titan's long-running workflows: defined once, handled
// by the workflows (sign-off.ts, drill.ts, step-progress.ts) and sent by the CLI and the Web UI.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { RecoveryStatus, SignedOff, SignOff } from './recovery-report';

export const signOffUpdate = defineUpdate<SignedOff, [SignOff]>('signOff');
export const signOffSignal = defineSignal<[SignOff]>('signOffSignal');
export const recoveryStatusQuery = defineQuery<RecoveryStatus>('recoveryStatus');

export interface DrillStatus {
  phase: 'starting the sandbox' | 'recovering' | 'removing the sandbox' | 'ended';
  /** The fullDisasterRecovery run against the sandbox: its recoveryStatus Query shows the stages. */
  recoveryWorkflowId: string;
  cleanedUp: string[];
  problem?: string;
}

export const drillStatusQuery = defineQuery<DrillStatus>('drillStatus');

/** Steps settled of the steps known so far (a rollback or a restart adds some): the CLI's bar where no bytes are counted. */
export interface StepProgress { done: number; total: number }

export const stepProgressQuery = defineQuery<StepProgress>('stepProgress');

/**
 * Sent by the worker when an activity attempt failed and will be retried (`failure` set), and
 * when it succeeded after retries (`failure` undefined): workflow code never sees attempts, so
 * this is how its current details in the Web UI show them (workflows/retry-details.ts).
 */
export interface ActivityRetry {
  activity: string;
  /** The attempt running (or about to run) now. */
  attempt: number;
  /** Why the previous attempt failed. */
  failure?: string;
}

export const activityRetrySignal = defineSignal<[ActivityRetry]>('activityRetry');
