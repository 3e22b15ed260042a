// The worker registers exactly what these factories return; workflows import their types only.
import type { Deps } from '../deps';
import { createConfigActivities } from './config-resync';
import { createRecoveryActivities } from './full-disaster';
import { createHostCheckActivities } from './host';
import { createLogActivities } from './log-resumption';
import { createModuleActivities } from './module-restore';
import { createRedisBackupActivities } from './redis-backup';
import { createRedisRestoreActivities } from './redis-restore';

/** What the recovery and its stages run: production's worker and a drill's sandbox worker alike. */
export function createRecoveryStageActivities(deps: Deps) {
  return {
    ...createRedisRestoreActivities(deps),
    ...createModuleActivities(deps),
    ...createConfigActivities(deps),
    ...createLogActivities(deps),
    ...createRecoveryActivities(deps),
    ...createHostCheckActivities(),
  };
}

/** Production's worker: backups too (a drill never writes backups nor applies retention). */
export function createActivities(deps: Deps) {
  return { ...createRedisBackupActivities(deps), ...createRecoveryStageActivities(deps) };
}

export type Activities = ReturnType<typeof createActivities>;
