// What every Titan worker registers, shared by src/worker.ts and the tests' in-process workers,
// so tests exercise the same settings as production.
import { ApplicationFailure } from '@temporalio/common';
import type { BundleOptions, WorkerOptions } from '@temporalio/worker';
import { createActivities, createRecoveryStageActivities } from './activities';
import { createDrillActivities, drillLoaded, drillSandbox } from './activities/drill';
import { retrySignalInterceptor } from './activities/retry-signal';
import { buildDataConverter, buildDeps, type Deps } from './deps';
import { failureConverterPath } from './infra/data-converter';
import { createHostActivities, HOST_BOUND } from './activities/host';
import { buildHostDeps, hostLoaded } from './host-deps';
import { ErrorType } from './lib/errors';
import { hostTaskQueue } from './lib/names';
import type { LoadedEnvironment } from './load-environment';

type TitanWorkerOptions = Pick<WorkerOptions, 'activities' | 'maxHeartbeatThrottleInterval' | 'interceptors' | 'dataConverter'>;

/** Bundled with the workflow code (bundleWorkflowCode's workflowInterceptorModules) by every worker. */
export const workflowInterceptorModules = [require.resolve('./workflows/retry-details')];

/**
 * What every bundle of the workflow code needs besides its logger: the interceptors, and the
 * failure converter that moves failure messages into (encrypted) payloads inside the sandbox.
 */
export const workflowBundleOptions = { workflowsPath: require.resolve('./workflows'), workflowInterceptorModules, failureConverterPath } satisfies Partial<BundleOptions>;

/** The worker log names a payload key it lacks once; the task itself fails on every attempt (titan status names it too). */
const logMissingKey = (_keyId: string, message: string) => console.error(`titan worker: ${message}`);

const withActivities = (activities: object, dataConverter: WorkerOptions['dataConverter']): TitanWorkerOptions => ({
  activities,
  dataConverter,
  // Progress reaches the UI and `titan backup` within seconds, not at 80% of the heartbeat timeout.
  maxHeartbeatThrottleInterval: '2s',
  // Retries reach the workflow's current details (Web UI); workflows/retry-details.ts shows them.
  interceptors: { activity: [retrySignalInterceptor] },
});

const notOnThisQueue = (activity: string) => async () => {
  throw ApplicationFailure.nonRetryable(`${activity} must run on its host's worker, but this run carries no host route: start it with the titan CLI, which routes each step to its host's queue`, ErrorType.WrongHost);
};

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
export function titanWorkers(loaded: LoadedEnvironment, deps: Deps = buildDeps(loaded), host?: string): TitanWorkerSpec[] {
  const onHost = host === undefined ? undefined : hostLoaded(loaded, host);
  // One converter for every worker: the drill's sandbox file is derived from the same file and keys.
  const dataConverter = buildDataConverter(loaded, logMissingKey);
  // With declared hosts, host-bound work reaches only its host's queue: the orchestration queue refuses it.
  const all = createActivities(deps);
  // A run started without routes (the Web UI's form) gets one clear failure, not endless "not registered" retries.
  const orchestration = loaded.env.hosts ? Object.fromEntries(Object.entries(all).map(([n, fn]) => [n, HOST_BOUND.has(n) ? notOnThisQueue(n) : fn])) : all;
  const workers = [{ taskQueue: loaded.env.taskQueue, deps, options: withActivities(orchestration, dataConverter) }];
  if (onHost) {
    // The same metrics as the orchestration activities: one worker, one /metrics.
    const hostDeps = { ...buildHostDeps(onHost, host!), metrics: deps.metrics };
    workers.push({ taskQueue: hostTaskQueue(loaded.env, host!), deps: hostDeps, options: withActivities(createHostActivities(hostDeps), dataConverter) });
  }
  if (loaded.env.recovery?.drill) {
    const sandbox = drillLoaded(loaded);
    const sandboxDeps = buildDeps(sandbox);
    const activities = { ...createRecoveryStageActivities(sandboxDeps), ...createDrillActivities(sandboxDeps, drillSandbox(loaded)) };
    workers.push({ taskQueue: sandbox.env.taskQueue, deps: sandboxDeps, options: withActivities(activities, dataConverter) });
  }
  return workers;
}
