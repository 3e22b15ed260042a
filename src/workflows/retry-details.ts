// A workflow interceptor module (bundled with every workflow): each workflow handles the worker's
// activityRetry signal by adding "attempt N: <last failure>" to its current details in the Web
// UI, and removing it when the activity succeeds; the workflow's own next details replace it too.
import { getCurrentDetails, setCurrentDetails, setHandler, type WorkflowInterceptorsFactory } from '@temporalio/workflow';
import { type ActivityRetry, activityRetrySignal } from '../lib/messages';

const MARK = '\n\n**Retrying** ';

export function withRetry(details: string, r: ActivityRetry): string {
  const base = details.includes(MARK) ? details.slice(0, details.indexOf(MARK)) : details;
  return r.failure === undefined ? base : `${base}${MARK}\`${r.activity}\`: attempt ${r.attempt}: ${r.failure}`;
}

export const interceptors: WorkflowInterceptorsFactory = () => ({
  inbound: [{
    async execute(input, next) {
      setHandler(activityRetrySignal, (r) => setCurrentDetails(withRetry(getCurrentDetails(), r)));
      return next(input);
    },
  }],
});
