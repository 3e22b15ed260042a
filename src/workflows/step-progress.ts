// How far a workflow whose steps carry no byte counts is (module restore: pulls, redeploys,
// restarts; config re-sync; log resumption): the stepProgress Query, drawn by the CLI's bar.
import { setHandler } from '@temporalio/workflow';
import { type StepProgress, stepProgressQuery } from '../lib/messages';

export type Steps = ReturnType<typeof stepProgress>;

export function stepProgress() {
  const p: StepProgress = { done: 0, total: 0 };
  setHandler(stepProgressQuery, () => ({ ...p }), { description: 'Steps settled of the steps known so far' });
  return {
    /** `n` more steps are known to come. */
    plan(n: number): void {
      p.total += n;
    },
    /** Counts one step as done once `work` settles, failed or not (a failure is reported elsewhere). */
    step<T>(work: Promise<T>): Promise<T> {
      return work.finally(() => { p.done += 1; });
    },
  };
}
