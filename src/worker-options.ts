// What every Titan worker registers, shared by src/worker.ts and the tests' in-process workers,
// so tests exercise the same settings as production.
import type { WorkerOptions } from '@temporalio/worker';
import { createActivities, createRecoveryStageActivities } from './activities';
import { createDrillActivities, drillLoaded, drillSandbox } from './activities/drill';
import { retrySignalInterceptor } from './activities/retry-signal';
import { buildDeps, type Deps } from './deps';
import type { LoadedEnvironment } from './load-environment';

type TitanWorkerOptions = Pick<WorkerOptions, 'activities' | 'maxHeartbeatThrottleInterval' | 'interceptors'>;

/** Bundled with the workflow code (bundleWorkflowCode's workflowInterceptorModules) by every worker. */
export const workflowInterceptorModules = [require.resolve('./workflows/retry-details')];

const withActivities = (activities: object): TitanWorkerOptions => ({
  activities,
  // Progress reaches the UI and `titan backup` within seconds, not at 80% of the heartbeat timeout.
  maxHeartbeatThrottleInterval: '2s',
  // Retries reach the workflow's current details (Web UI); workflows/retry-details.ts shows them.
  interceptors: { activity: [retrySignalInterceptor] },
});

export interface TitanWorkerSpec {
  taskQueue: string;
  deps: Deps;
  options: TitanWorkerOptions;
}

/**
 * The workers one process runs: production's, and with a `recovery.drill` section the drill's on
 * `<taskQueue>-drill`, whose activities are built from the sandbox environment and so reach only
 * the sandbox. The drill's worker has no backup activities: a drill never writes backups nor
 * applies retention to the locations it restores from.
 */
export function titanWorkers(loaded: LoadedEnvironment, deps: Deps = buildDeps(loaded)): TitanWorkerSpec[] {
  const workers = [{ taskQueue: loaded.env.taskQueue, deps, options: withActivities(createActivities(deps)) }];
  if (loaded.env.recovery?.drill) {
    const sandbox = drillLoaded(loaded);
    const sandboxDeps = buildDeps(sandbox);
    const activities = { ...createRecoveryStageActivities(sandboxDeps), ...createDrillActivities(sandboxDeps, drillSandbox(loaded)) };
    workers.push({ taskQueue: sandbox.env.taskQueue, deps: sandboxDeps, options: withActivities(activities) });
  }
  return workers;
}
