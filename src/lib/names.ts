// Every name Titan gives things on the Temporal server, as functions of the environment: task
// queues, workflow ids, schedule ids, search attributes and the kinds runs are filtered by. The
// search attributes' one list is search-attributes.json: the local stack registers it on the dev
// server, `titan search-attributes apply` on any other.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import searchAttributes from './search-attributes.json';

/** The environment as far as names go. */
type Named = { environment: string };

export const TASK_QUEUE = 'titan-recovery';
/** A drill's sandbox worker polls this queue beside production's. */
export const drillTaskQueue = (taskQueue: string) => `${taskQueue}-drill`;

/** The queue only the worker running on a host polls (`titan worker --host <name>`): the host's data directories, Redis processes, engine, files. */
export const hostTaskQueue = (env: Named, host: string) => id(env, `host-${host}`);

/** What a run is, for the Web UI's filters (search attribute TitanKind). */
export const Kind = {
  backup: 'backup',
  restore: 'restore',
  modules: 'modules',
  config: 'config',
  logs: 'logs',
  logShipping: 'log-shipping',
  recovery: 'recovery',
  drill: 'drill',
} as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

const id = (env: Named, what: string) => `titan-${env.environment}-${what}`;

/** Fixed ids make the server refuse a second run of the same kind (and target) while one runs. */
export const WorkflowId = {
  /** Manual backups are not exclusive: the time makes each id new. */
  manualBackup: (env: Named, redis: string, at: Date) => id(env, `backup-${redis}-manual-${at.toISOString().replace(/[-:.]/g, '')}`),
  restore: (env: Named, target: string) => id(env, `restore-${target}`),
  modules: (env: Named) => id(env, 'modules'),
  config: (env: Named) => id(env, 'config'),
  logs: (env: Named) => id(env, 'logs'),
  recovery: (env: Named) => id(env, 'recovery'),
  /** Also the drill schedule's id: its runs get the schedule's timestamp appended. */
  drill: (env: Named) => id(env, 'drill'),
};

export const ScheduleId = {
  backup: (env: Named, schedule: string) => id(env, `backup-${schedule}`),
  logShipping: (env: Named) => id(env, 'log-shipping'),
  drill: WorkflowId.drill,
  /** The schedules `titan schedules apply` owns for the environment (exact ids: "prod" never touches "prod-eu"'s). */
  isTitans: (env: Named, scheduleId: string) =>
    scheduleId.startsWith(id(env, 'backup-')) || scheduleId === ScheduleId.logShipping(env) || scheduleId === ScheduleId.drill(env),
};

export type SearchAttributeName = keyof typeof searchAttributes;
/** Name → type, as the server registers them. */
export const SEARCH_ATTRIBUTES: Record<SearchAttributeName, string> = searchAttributes;

const keyword = (name: SearchAttributeName) => defineSearchAttributeKey(name, SearchAttributeType.KEYWORD);

export const SearchKey = {
  environment: keyword('TitanEnvironment'),
  stage: keyword('TitanStage'),
  kind: keyword('TitanKind'),
  backupId: keyword('TitanBackupId'),
};
