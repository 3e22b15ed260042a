// How workflows call activities: each call gets its own summary (so the UI's event history reads
// like the recovery plan), and one of two retry profiles. Failures retrying cannot fix are raised
// non-retryable by the activities themselves.
import type { Duration, RetryPolicy } from '@temporalio/common';
import { ActivityFailure, ChildWorkflowFailure, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { DrillActivities } from '../activities/drill';

const retry = (maximumAttempts: number, maximumInterval: Duration): RetryPolicy => ({ initialInterval: '1s', backoffCoefficient: 2, maximumInterval, maximumAttempts });

/** Short steps without heartbeats. */
export const quickStep = (summary: string) => proxyActivities<Activities>({ summary, startToCloseTimeout: '2 minutes', retry: retry(8, '15s') });

/** Short steps on a drill's sandbox worker (its own task queue, activities built from the sandbox environment). */
export const sandboxStep = (summary: string, taskQueue: string) =>
  proxyActivities<DrillActivities>({ summary, taskQueue, startToCloseTimeout: '2 minutes', retry: retry(8, '15s') });

/** Long steps heartbeat at least every few seconds; a missed heartbeat means the worker died, so retry soon. */
export const longStep = (summary: string, startToCloseTimeout: Duration = '4 hours') =>
  proxyActivities<Activities>({ summary, startToCloseTimeout, heartbeatTimeout: '20s', retry: retry(8, '30s') });

/** What an activity's (or a child workflow's) failure says, without the SDK's wrapping. */
export const failureReason = (err: unknown) => ((err instanceof ActivityFailure || err instanceof ChildWorkflowFailure) && err.cause ? err.cause.message : String((err as Error).message ?? err));
