// `titan schedules apply` and `titan schedules list`.
import type { Client } from '@temporalio/client';
import type { LoadedEnvironment } from '../load-environment';
import { applySchedules, listSchedules } from './schedules';
import { printResult, table } from './output';

export async function applyCommand(client: Client, loaded: LoadedEnvironment, json: boolean) {
  const report = await applySchedules(client, loaded.env);
  printResult(json, report, () => [
    ...report.created.map((id) => `created ${id}`),
    ...report.updated.map((id) => `updated ${id}`),
    ...report.deleted.map((id) => `deleted ${id}`),
  ].join('\n') || 'no schedules in the environment file');
}

export async function listCommand(client: Client, loaded: LoadedEnvironment, json: boolean) {
  const rows = await listSchedules(client, loaded.env);
  printResult(json, rows, () => rows.length ? table(rows.map((r) => ({ id: r.id, schedule: r.note, paused: r.paused ? 'yes' : 'no', 'next run': r.nextRun, 'last run': r.lastRun }))) : 'no Titan schedules (run `titan schedules apply`)');
}
