// The worker registers exactly what this factory returns; workflows import its type only.
import type { Deps } from './deps';
import { createRedisBackupActivities } from './redis-backup';

export function createActivities(deps: Deps) {
  return {
    ...createRedisBackupActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
