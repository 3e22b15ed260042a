// How workflows call activities: each call gets its own summary (so the UI's event history reads
// like the recovery plan), and one of two retry profiles. Failures retrying cannot fix are raised
// non-retryable by the activities themselves.
import type { Duration, RetryPolicy } from '@temporalio/common';
import { type ActivityOptions, ActivityFailure, ChildWorkflowFailure, proxyActivities } from '@temporalio/workflow';
import type { HostRoute } from '../lib/hosts';
import type { Activities } from '../activities';
import type { DrillActivities } from '../activities/drill';

const retry = (maximumAttempts: number, maximumInterval: Duration): RetryPolicy => ({ initialInterval: '1s', backoffCoefficient: 2, maximumInterval, maximumAttempts });

const QUICK = { startToCloseTimeout: '2 minutes', retry: retry(8, '15s') } satisfies ActivityOptions;
/** A missed heartbeat means the worker died, so retry soon. */
const LONG = { heartbeatTimeout: '20s', retry: retry(8, '30s') } satisfies ActivityOptions;

/** Short steps without heartbeats. */
export const quickStep = (summary: string) => proxyActivities<Activities>({ summary, ...QUICK });

/** Short steps on a drill's sandbox worker (its own task queue, activities built from the sandbox environment). */
export const sandboxStep = (summary: string, taskQueue: string) =>
  proxyActivities<DrillActivities>({ summary, taskQueue, ...QUICK });

/** Long steps heartbeat at least every few seconds. */
export const longStep = (summary: string, startToCloseTimeout: Duration = '4 hours') =>
  proxyActivities<Activities>({ summary, startToCloseTimeout, ...LONG });

/**
 * Steps on the host the data lives on (its own task queue, lib/hosts.ts); without a route (the
 * implicit host) the workflow's own queue, as quickStep and longStep. No schedule-to-start
 * timeout: the step waits in the queue until the host's worker comes back (host-wait.ts shows it).
 */
export const onHost = (route: HostRoute | undefined) => {
  const taskQueue = route ? { taskQueue: route.taskQueue } : {};
  return {
    quick: (summary: string) => proxyActivities<Activities>({ summary, ...QUICK, ...taskQueue }),
    long: (summary: string, startToCloseTimeout: Duration = '4 hours') => proxyActivities<Activities>({ summary, startToCloseTimeout, ...LONG, ...taskQueue }),
  };
};

/** What an activity's (or a child workflow's) failure says, without the SDK's wrapping. */
export const failureReason = (err: unknown) => ((err instanceof ActivityFailure || err instanceof ChildWorkflowFailure) && err.cause ? err.cause.message : String((err as Error).message ?? err));
