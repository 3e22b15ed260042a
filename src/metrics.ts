// Titan's own Prometheus metrics, served by the worker on the Temporal runtime's exporter beside
// the SDK's (pollers, slots, latencies): the age of the newest valid backup, and what the last
// restore did. They are set by activities through `deps.metrics` with the runtime's meter (no
// per-activity tags), so each is one series per Redis instance.
import type { MetricMeter } from '@temporalio/common';
import type { BackupStore } from './activities/backup-store';

export interface TitanMetrics {
  /** Re-reads the newest valid backup of `redis` (all instances if omitted) from the primary location. */
  refreshBackupAge(redis?: string): Promise<void>;
  restoreFinished(target: string, succeeded: boolean): void;
}

export const noMetrics: TitanMetrics = { refreshBackupAge: async () => undefined, restoreFinished: () => undefined };

export function titanMetrics(meter: MetricMeter, primary: BackupStore, instances: string[]): TitanMetrics {
  const age = meter.createGauge('titan_backup_newest_valid_age_seconds', 'float', 's', 'Age of the newest valid backup in the primary location');
  const restoreOk = meter.createGauge('titan_restore_last_success', 'int', '', '1 if the last restore into this Redis instance was verified, 0 if it failed');
  const restoreAt = meter.createGauge('titan_restore_last_timestamp_seconds', 'float', 's', 'When the last restore into this Redis instance ended (Unix time)');
  return {
    async refreshBackupAge(redis) {
      for (const name of redis ? [redis] : instances) {
        const newest = (await primary.list(name)).filter((e) => !e.problem && e.manifest).map((e) => Date.parse(e.manifest!.createdAt)).sort((a, b) => b - a)[0];
        if (newest !== undefined) age.set((Date.now() - newest) / 1000, { redis: name });
      }
    },
    restoreFinished(target, succeeded) {
      restoreOk.set(succeeded ? 1 : 0, { redis: target });
      restoreAt.set(Date.now() / 1000, { redis: target });
    },
  };
}
