// An activity interceptor: after a failed attempt that will be retried, and after a success that
// followed retries, it signals the calling workflow (activityRetry), so the workflow's current
// details in the Web UI show the attempt and the last failure as the CLI does.
import type { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { type ActivityRetry, activityRetrySignal } from '../lib/messages';

export const retrySignalInterceptor: ActivityInterceptorsFactory = (ctx: Context) => ({
  inbound: {
    async execute(input, next) {
      const { attempt, activityType } = ctx.info;
      try {
        const result = await next(input);
        if (attempt > 1) await signal(ctx, { activity: activityType, attempt });
        return result;
      } catch (err) {
        // Non-retryable failures and cancellations end the activity: the workflow reports those itself.
        const final = (err instanceof ApplicationFailure && err.nonRetryable) || err instanceof CancelledFailure;
        if (!final) await signal(ctx, { activity: activityType, attempt: attempt + 1, failure: (err as Error).message?.split('\n')[0] ?? String(err) });
        throw err;
      }
    },
  },
});

/** Best effort: the activity's outcome never depends on the signal. */
async function signal(ctx: Context, r: ActivityRetry): Promise<void> {
  const wf = ctx.info.workflowExecution;
  if (!wf) return; // a standalone activity has no workflow to tell
  try {
    await ctx.client.workflow.getHandle(wf.workflowId, wf.runId).signal(activityRetrySignal, r);
  } catch {
    // e.g. the workflow ended meanwhile
  }
}
