// Backup Schedules derived from the environment file. `apply` converges the server on the file:
// creates missing schedules, updates changed ones, deletes Titan's schedules the file no longer has.
import { type Client, ScheduleNotFoundError, ScheduleOverlapPolicy, type ScheduleOptions } from '@temporalio/client';
import type { Duration } from '@temporalio/common';
import type { Environment } from './lib/config';
import { SearchKey } from './lib/shared';
import type { redisBackup } from './workflows';

export const schedulePrefix = (env: Environment) => `titan-${env.environment}-backup-`;

export function desiredSchedules(env: Environment): ScheduleOptions[] {
  return Object.entries(env.backups.schedules).map(([name, s]) => ({
    scheduleId: `${schedulePrefix(env)}${name}`,
    spec: { cronExpressions: [s.cron] },
    action: {
      type: 'startWorkflow' as const,
      workflowType: 'redisBackup' satisfies (typeof redisBackup)['name'],
      args: [{ redis: s.redis, retentionClass: s.retentionClass }],
      taskQueue: env.taskQueue,
      workflowId: `${schedulePrefix(env)}${name}`,
      staticSummary: `${s.retentionClass} backup of Redis ${s.redis} (${env.environment})`,
      typedSearchAttributes: [
        { key: SearchKey.environment, value: env.environment },
        { key: SearchKey.kind, value: 'backup' },
      ],
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: env.backups.catchupWindow as Duration },
    state: { note: `${s.retentionClass} backup of Redis ${s.redis}: cron "${s.cron}" UTC` },
  }));
}

export interface ApplyReport { created: string[]; updated: string[]; deleted: string[] }

export async function applySchedules(client: Client, env: Environment): Promise<ApplyReport> {
  const report: ApplyReport = { created: [], updated: [], deleted: [] };
  const desired = desiredSchedules(env);
  for (const opts of desired) {
    const handle = client.schedule.getHandle(opts.scheduleId);
    try {
      await handle.update((prev) => ({ ...prev, spec: opts.spec, action: opts.action, policies: { ...prev.policies, ...opts.policies }, state: { ...prev.state, note: opts.state?.note } }));
      report.updated.push(opts.scheduleId);
    } catch (err) {
      if (!(err instanceof ScheduleNotFoundError)) throw err;
      await client.schedule.create(opts);
      report.created.push(opts.scheduleId);
    }
  }
  const wanted = new Set(desired.map((d) => d.scheduleId));
  for await (const s of client.schedule.list()) {
    if (s.scheduleId.startsWith(schedulePrefix(env)) && !wanted.has(s.scheduleId)) {
      await client.schedule.getHandle(s.scheduleId).delete();
      report.deleted.push(s.scheduleId);
    }
  }
  return report;
}

export async function listSchedules(client: Client, env: Environment) {
  const out = [];
  for await (const s of client.schedule.list()) {
    if (!s.scheduleId.startsWith(schedulePrefix(env))) continue;
    out.push({
      id: s.scheduleId,
      note: s.state.note ?? '',
      paused: s.state.paused,
      nextRun: s.info.nextActionTimes[0]?.toISOString() ?? '',
      lastRun: s.info.recentActions.at(-1)?.takenAt.toISOString() ?? '',
    });
  }
  return out.sort((a, b) => a.id.localeCompare(b.id));
}
