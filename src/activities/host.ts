// Which activities are bound to a host (they touch its data directories, Redis processes, Docker
// engine or files), so a host's worker registers only these on its queue, and the orchestration
// queue's check that a host has a worker polling (DescribeTaskQueue, through the worker's client).
import { Context } from '@temporalio/activity';
import type { Deps } from '../deps';
import { TaskQueueType, workerPolls } from '../infra/task-queue-pollers';
import { createConfigActivities } from './config-resync';
import { createLogActivities } from './log-resumption';
import { createModuleActivities } from './module-restore';
import { createRedisBackupActivities } from './redis-backup';
import { createRedisRestoreActivities } from './redis-restore';

const pick = <T extends object, K extends keyof T>(o: T, keys: readonly K[]): Pick<T, K> =>
  Object.fromEntries(keys.map((k) => [k, o[k]])) as Pick<T, K>;

const RESTORE_ON_HOST = ['inspectRestoreTarget', 'stageBackup', 'stopRedis', 'replaceRedisData', 'startRedis', 'verifyRestoredRedis', 'rollBackRedisData', 'cleanUpRestore'] as const;
const CONFIG_ON_HOST = ['renderConfigFiles', 'restartConfiguredModules', 'runConfigScripts', 'checkConfig'] as const;
const LOGS_ON_HOST = ['identifyLogSources', 'shipModuleLogs', 'writeLogCanary', 'verifyModuleLogs'] as const;

/** What the worker running on a host registers on the host's queue, and nothing else. */
export function createHostActivities(deps: Pick<Deps, 'redis' | 'redisTarget' | 'docker' | 'store' | 'allStores' | 'partSize' | 'queueSize' | 'retention' | 'metrics' | 'modules' | 'moduleOrchestrator' | 'configSync' | 'logs'>) {
  return {
    // Also on the orchestration queue: the stream needs only the network, so schedules of before still run.
    ...pick(createRedisBackupActivities(deps), ['snapshotToPrimary']),
    ...pick(createRedisRestoreActivities(deps), RESTORE_ON_HOST),
    ...createModuleActivities(deps),
    ...pick(createConfigActivities(deps), CONFIG_ON_HOST),
    ...pick(createLogActivities(deps), LOGS_ON_HOST),
  };
}

/** The names of the host-bound activities: with declared hosts, the orchestration queue does not serve them. */
export const HOST_BOUND: ReadonlySet<string> = new Set<string>([...RESTORE_ON_HOST, ...CONFIG_ON_HOST, ...LOGS_ON_HOST, 'inspectModules', 'pullModuleImage', 'redeployModule', 'restartModule', 'verifyModule']);

export function createHostCheckActivities() {
  return {
    /** Whether a worker polls the host's queue for activities now. */
    async hostWorkerPolling(req: { taskQueue: string }): Promise<boolean> {
      return workerPolls(Context.current().client, req.taskQueue, [TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY]);
    },
  };
}
