// Titan's Schedules (backups, log shipping, DR drills) derived from the environment file. `apply` converges
// the server on the file: creates missing schedules, updates changed ones, deletes Titan's
// schedules the file no longer has.
import { type Client, ScheduleNotFoundError, ScheduleOverlapPolicy, type ScheduleOptions } from '@temporalio/client';
import type { Duration } from '@temporalio/common';
import { onModulesHost, onRedisHost } from '../lib/hosts';
import type { Environment } from '../lib/config';
import { Kind, ScheduleId, SearchKey } from '../lib/names';
import type * as workflows from '../workflows';

export function desiredSchedules(env: Environment): ScheduleOptions[] {
  const policies = { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: env.backups.catchupWindow as Duration };
  const action = <N extends keyof typeof workflows>(kind: Kind, workflowType: N, workflowId: string, args: Parameters<(typeof workflows)[N]>, staticSummary: string) => ({
    type: 'startWorkflow' as const,
    workflowType,
    args,
    taskQueue: env.taskQueue,
    workflowId,
    staticSummary,
    typedSearchAttributes: [
      { key: SearchKey.environment, value: env.environment },
      { key: SearchKey.kind, value: kind },
    ],
  });
  const backups = Object.entries(env.backups.schedules).map(([name, s]) => {
    const id = ScheduleId.backup(env, name);
    return {
      scheduleId: id,
      spec: { cronExpressions: [s.cron] },
      action: action(Kind.backup, 'redisBackup', id, [{ redis: s.redis, retentionClass: s.retentionClass, ...(s.from && { from: s.from }), ...onRedisHost(env, s.from ?? s.redis) }], `${s.retentionClass} backup of Redis ${s.redis}${s.from ? ` from ${s.from}` : ''} (${env.environment})`),
      policies,
      state: { note: `${s.retentionClass} backup of Redis ${s.redis}${s.from ? ` from replica ${s.from}` : ''}: cron "${s.cron}" UTC` },
    };
  });
  // SKIP overlap: one shipper per module at a time; resumeLogs pauses it while it backfills.
  const logs = env.logging ? [{
    scheduleId: ScheduleId.logShipping(env),
    spec: { intervals: [{ every: env.logging.shipEvery as Duration }] },
    action: action(Kind.logShipping, 'shipLogs', ScheduleId.logShipping(env), [onModulesHost(env)], `Ship module logs to the central store (${env.environment})`),
    policies,
    state: { note: `ship module logs every ${env.logging.shipEvery}` },
  }] : [];
  // Its runs' ids get the schedule's timestamp, so they can race a manual `titan drill`: the sandbox's owner label guards that.
  const drill = env.recovery?.drill?.schedule;
  const drills = drill ? [{
    scheduleId: ScheduleId.drill(env),
    spec: { cronExpressions: [drill.cron] },
    action: action(Kind.drill, 'recoveryDrill', ScheduleId.drill(env), [{}], `DR drill of ${env.environment} against sandbox targets`),
    policies,
    state: { note: `DR drill: cron "${drill.cron}" UTC` },
  }] : [];
  return [...backups, ...logs, ...drills];
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
    if (ScheduleId.isTitans(env, s.scheduleId) && !wanted.has(s.scheduleId)) {
      await client.schedule.getHandle(s.scheduleId).delete();
      report.deleted.push(s.scheduleId);
    }
  }
  return report;
}

export async function listSchedules(client: Client, env: Environment) {
  const out = [];
  for await (const s of client.schedule.list()) {
    if (!ScheduleId.isTitans(env, s.scheduleId)) continue;
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
