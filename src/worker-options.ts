// What every Titan worker registers, shared by src/worker.ts and the tests' in-process workers,
// so tests exercise the same settings as production.
import type { WorkerOptions } from '@temporalio/worker';
import { createActivities } from './activities';
import type { Deps } from './activities/deps';

export function titanWorkerOptions(deps: Deps): Pick<WorkerOptions, 'activities' | 'maxHeartbeatThrottleInterval'> {
  return {
    activities: createActivities(deps),
    // Progress reaches the UI and `titan backup` within seconds, not at 80% of the heartbeat timeout.
    maxHeartbeatThrottleInterval: '2s',
  };
}
