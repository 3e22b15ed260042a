// What every Titan worker registers, shared by src/worker.ts and the tests' in-process workers,
// so tests exercise the same settings as production.
import type { WorkerOptions } from '@temporalio/worker';
import { createActivities } from './activities';
import { buildDeps, type Deps } from './activities/deps';
import { createDrillActivities, drillLoaded, drillSandbox } from './activities/drill';
import { createRedisBackupActivities } from './activities/redis-backup';
import type { LoadedEnvironment } from './load-environment';

export function titanWorkerOptions(deps: Deps): Pick<WorkerOptions, 'activities' | 'maxHeartbeatThrottleInterval'> {
  return {
    activities: createActivities(deps),
    // Progress reaches the UI and `titan backup` within seconds, not at 80% of the heartbeat timeout.
    maxHeartbeatThrottleInterval: '2s',
  };
}

export interface TitanWorkerSpec {
  taskQueue: string;
  deps: Deps;
  options: ReturnType<typeof titanWorkerOptions>;
}

/**
 * The workers one process runs: production's, and with a `recovery.drill` section the drill's on
 * `<taskQueue>-drill`, whose activities are built from the sandbox environment and so reach only
 * the sandbox. The drill's worker has no backup activities: a drill never writes backups nor
 * applies retention to the locations it restores from.
 */
export function titanWorkers(loaded: LoadedEnvironment, deps: Deps = buildDeps(loaded)): TitanWorkerSpec[] {
  const workers = [{ taskQueue: loaded.env.taskQueue, deps, options: titanWorkerOptions(deps) }];
  if (loaded.env.recovery?.drill) {
    const sandbox = drillLoaded(loaded);
    const sandboxDeps = buildDeps(sandbox);
    const options = titanWorkerOptions(sandboxDeps);
    const backupOnly = new Set(Object.keys(createRedisBackupActivities(sandboxDeps)));
    options.activities = {
      ...Object.fromEntries(Object.entries(options.activities!).filter(([k]) => !backupOnly.has(k))),
      ...createDrillActivities(sandboxDeps, drillSandbox(loaded)),
    };
    workers.push({ taskQueue: sandbox.env.taskQueue, deps: sandboxDeps, options });
  }
  return workers;
}
