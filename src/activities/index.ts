// The worker registers exactly what this factory returns; workflows import its type only.
import type { Deps } from './deps';
import { createConfigActivities } from './config-resync';
import { createLogActivities } from './log-resumption';
import { createRecoveryActivities } from './full-disaster';
import { createModuleActivities } from './module-restore';
import { createRedisBackupActivities } from './redis-backup';
import { createRedisRestoreActivities } from './redis-restore';

export function createActivities(deps: Deps) {
  return {
    ...createRedisBackupActivities(deps),
    ...createRedisRestoreActivities(deps),
    ...createModuleActivities(deps),
    ...createConfigActivities(deps),
    ...createLogActivities(deps),
    ...createRecoveryActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
