// Titan's own Prometheus metrics, served by the worker on the Temporal runtime's exporter beside
// the SDK's (pollers, slots, latencies): the age of the newest valid backup, what the last restore
// did, how long recovery stages take, and the last drill's result and RTO. They are set by
// activities through `deps.metrics` with the runtime's meter (no per-activity tags), so each is
// one series per Redis instance, stage or environment.
import type { MetricMeter } from '@temporalio/common';
import type { BackupStore } from './backup-store';
import type { RecoveryReport } from '../lib/recovery-report';

/** Stage durations are minutes, not the runtime's default millisecond buckets. */
export const STAGE_DURATION_BUCKETS = [5, 15, 30, 60, 120, 300, 600, 1800, 3600];

export interface TitanMetrics {
  /** Re-reads the newest valid backup of `redis` (all instances if omitted) from the primary location. */
  refreshBackupAge(redis?: string): Promise<void>;
  restoreFinished(target: string, succeeded: boolean): void;
  /** A recovery's or drill's report as it is stored: each stage attempt's duration, a drill's result. */
  recoveryReported(report: RecoveryReport): void;
}

export const noMetrics: TitanMetrics = { refreshBackupAge: async () => undefined, restoreFinished: () => undefined, recoveryReported: () => undefined };

export function titanMetrics(meter: MetricMeter, primary: BackupStore, instances: string[]): TitanMetrics {
  const age = meter.createGauge('titan_backup_newest_valid_age_seconds', 'float', 's', 'Age of the newest valid backup in the primary location');
  const restoreOk = meter.createGauge('titan_restore_last_success', 'int', '', '1 if the last restore into this Redis instance was verified, 0 if it failed');
  const restoreAt = meter.createGauge('titan_restore_last_timestamp_seconds', 'float', 's', 'When the last restore into this Redis instance ended (Unix time)');
  const stageDuration = meter.createHistogram('titan_recovery_stage_duration_seconds', 'float', 's', 'Duration of each recovery or drill stage attempt');
  const drillOk = meter.createGauge('titan_drill_last_success', 'int', '', '1 if the last drill completed with every stage verified, 0 otherwise');
  const drillRto = meter.createGauge('titan_drill_last_rto_seconds', 'float', 's', "The last completed drill's measured RTO");
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
    recoveryReported(report) {
      const kind = report.drill ? 'drill' : 'recovery';
      for (const stage of report.stages) {
        for (const a of stage.attempts) {
          if (a.endedAt) stageDuration.record((Date.parse(a.endedAt) - Date.parse(a.startedAt)) / 1000, { stage: stage.name, kind, outcome: a.outcome });
        }
      }
      if (!report.drill) return;
      drillOk.set(report.outcome === 'completed' && !report.drill.cleanupProblem ? 1 : 0, { environment: report.environment });
      if (report.outcome === 'completed' && report.rto.totalMs !== undefined) drillRto.set(report.rto.totalMs / 1000, { environment: report.environment });
    },
  };
}
