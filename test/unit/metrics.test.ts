// Titan's metrics from a stored report, on a meter that records what it is given.
import assert from 'node:assert/strict';
import type { MetricMeter } from '@temporalio/common';
import type { BackupStore } from '../../src/infra/backup-store';
import type { RecoveryReport } from '../../src/lib/recovery-report';
import { titanMetrics } from '../../src/infra/metrics';

function recordingMeter() {
  const seen: [string, number, Record<string, unknown>][] = [];
  const metric = (name: string) => ({ set: (v: number, a = {}) => void seen.push([name, v, a]), record: (v: number, a = {}) => void seen.push([name, v, a]), add: () => undefined });
  const meter = { createGauge: metric, createHistogram: metric, createCounter: metric } as unknown as MetricMeter;
  return { meter, seen };
}

const report = (outcome: RecoveryReport['outcome'], drill?: RecoveryReport['drill']) => ({
  environment: 'prod', outcome, drill, rto: { totalMs: 42_000, stages: [] },
  stages: [{ name: 'redis', attempts: [
    { attempt: 1, startedAt: '2026-12-01T10:00:00Z', endedAt: '2026-12-01T10:00:30Z', outcome: 'failed' },
    { attempt: 2, startedAt: '2026-12-01T10:01:00Z', endedAt: '2026-12-01T10:01:12Z', outcome: 'succeeded' },
  ] }],
}) as unknown as RecoveryReport;

describe('Titan metrics', () => {
  it('every stage attempt goes into the duration histogram, by stage, kind and outcome', () => {
    const { meter, seen } = recordingMeter();
    titanMetrics(meter, {} as BackupStore, ['main']).recoveryReported(report('completed'));
    assert.deepEqual(seen, [
      ['titan_recovery_stage_duration_seconds', 30, { stage: 'redis', kind: 'recovery', outcome: 'failed' }],
      ['titan_recovery_stage_duration_seconds', 12, { stage: 'redis', kind: 'recovery', outcome: 'succeeded' }],
    ], 'a recovery sets no drill gauge');
  });

  it('a drill sets its result and RTO; a failed drill, or one that left part of its sandbox, reports 0', () => {
    const { meter, seen } = recordingMeter();
    const m = titanMetrics(meter, {} as BackupStore, ['main']);
    m.recoveryReported(report('completed', { autoSignOff: true, cleanedUp: ['redis'] }));
    m.recoveryReported(report('aborted', { autoSignOff: true, cleanedUp: ['redis'] }));
    m.recoveryReported(report('completed', { autoSignOff: true, cleanedUp: [], cleanupProblem: 'container still there' }));
    const gauges = seen.filter(([n]) => n.startsWith('titan_drill_'));
    assert.deepEqual(gauges, [
      ['titan_drill_last_success', 1, { environment: 'prod' }],
      ['titan_drill_last_rto_seconds', 42, { environment: 'prod' }],
      ['titan_drill_last_success', 0, { environment: 'prod' }],
      ['titan_drill_last_success', 0, { environment: 'prod' }],
      ['titan_drill_last_rto_seconds', 42, { environment: 'prod' }],
    ]);
  });
});
