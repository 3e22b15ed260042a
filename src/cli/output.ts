// How the CLI talks to people and scripts: tables and human sizes on stdout, --json for scripts,
// one clear line on stderr for errors, progress bars on stderr.
import { ApplicationFailure, QueryNotRegisteredError, ServiceError, type WorkflowHandle, WorkflowFailedError } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import type { LoadedDataConverter } from '@temporalio/common';
import { decodeFromPayloadsAtIndex, decodeOptionalFailureToOptionalError } from '@temporalio/common/lib/internal-non-workflow';
import { SingleBar } from 'cli-progress';
import { type StepProgress, stepProgressQuery } from '../lib/messages';

export function humanBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export function humanAge(from: Date, now = new Date()): string {
  const s = Math.max(0, Math.round((now.getTime() - from.getTime()) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172800) return `${(s / 3600).toFixed(1)}h`;
  return `${(s / 86400).toFixed(1)}d`;
}

export function table(rows: Record<string, string>[]): string {
  if (rows.length === 0) return '';
  const cols = Object.keys(rows[0]!);
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(width[i]!)).join('  ').trimEnd();
  return [line(cols.map((c) => c.toUpperCase())), ...rows.map((r) => line(cols.map((c) => r[c] ?? '')))].join('\n');
}

export function printResult(json: boolean, data: unknown, human: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(data, null, 2)}\n` : `${human()}\n`);
}

/** A progress bar on stderr, of bytes or of steps; when stderr is not a terminal it prints a line every few seconds. */
export function progressBar(label: string) {
  const bar = new SingleBar({
    format: `${label} [{bar}] {percentage}% {amount} {phase}`,
    stream: process.stderr,
    noTTYOutput: true,
    notTTYSchedule: 3000,
    hideCursor: true,
  });
  let started = false;
  const t0 = Date.now();
  const draw = (value: number, total: number, payload: { amount: string; phase: string }) => {
    if (!started) { bar.start(total, value, payload); started = true; } else { bar.setTotal(total); bar.update(value, payload); }
  };
  return {
    /** `bytes` undefined: a step without a byte count (starting, verifying): the phase alone. */
    update(bytes: number | undefined, total: number | undefined, phase: string) {
      const rate = humanBytes((bytes ?? 0) / Math.max(0.001, (Date.now() - t0) / 1000));
      draw(bytes ?? 0, total ?? Math.max(bytes ?? 0, 1), { amount: bytes === undefined ? '' : `${humanBytes(bytes)}/${total ? humanBytes(total) : '?'} ${rate}/s`, phase });
    },
    steps(done: number, total: number, phase: string) {
      draw(done, total, { amount: `${done}/${total} steps`, phase });
    },
    /** The workflow succeeded though no total was ever heartbeated (a tiny backup): a full bar, no amount. */
    done() { if (started) draw(bar.getTotal(), bar.getTotal(), { amount: '', phase: 'done' }); },
    stop() { if (started) bar.stop(); },
  };
}

/** What long activities put in their heartbeats (transfers: bytes; other steps: a phase only). */
interface HeartbeatProgress { phase?: string; bytes?: number; totalBytes?: number }

type PendingActivity = temporal.api.workflow.v1.IPendingActivityInfo;

/**
 * "attempt 4: <last failure>" while an activity retries, else undefined. The server keeps the
 * attempt number and last failure of pending activities; workflow code never sees them. The
 * failure's message is an encrypted payload (failure-converter.ts): decoded with the client's keys.
 */
export async function retryNote(converter: LoadedDataConverter, pending: PendingActivity | undefined): Promise<string | undefined> {
  if (!pending || (pending.attempt ?? 1) <= 1) return undefined;
  const failure = (await decodeOptionalFailureToOptionalError(converter, pending.lastFailure))?.message.split('\n')[0];
  return `attempt ${pending.attempt}${failure ? `: ${failure}` : ''}`;
}

/** The workflow's stepProgress Query; undefined if it does not answer in time, `false` if it has no such Query. */
async function askSteps(handle: WorkflowHandle): Promise<StepProgress | false | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => { timer = setTimeout(() => resolve(undefined), STEPS_QUERY_MS); });
  const asked = handle.query(stepProgressQuery).catch((err) => (err instanceof QueryNotRegisteredError ? false as const : undefined));
  return Promise.race([asked, late]).finally(() => clearTimeout(timer));
}
/** A busy or absent worker must not stall the bar (nor the end of the command) for long. */
const STEPS_QUERY_MS = 3000;

/**
 * Waits for a workflow's result, drawing a progress bar: its steps, if it counts them (the
 * stepProgress Query: module restore, config re-sync, log resumption), else the running
 * activity's heartbeated bytes; the phase is the activity's heartbeat or name either way.
 */
export async function followWithProgress<T>(handle: WorkflowHandle, json: boolean, label: string): Promise<T> {
  const bar = json ? undefined : progressBar(label);
  let last: HeartbeatProgress = {};
  let steps: StepProgress | false | undefined; // false: the workflow counts no steps (a backup or restore counts bytes)
  let polling = false;
  const poll = setInterval(async () => {
    if (polling) return;
    polling = true;
    try {
      const converter = handle.client.options.loadedDataConverter;
      const pending = (await handle.describe().catch(() => undefined))?.raw.pendingActivities?.[0];
      const payloads = pending?.heartbeatDetails?.payloads;
      const p = (payloads?.length ? await decodeFromPayloadsAtIndex<HeartbeatProgress>(converter, 0, payloads).catch(() => undefined) : undefined) ?? {};
      const retrying = await retryNote(converter, pending).catch(() => undefined);
      const phase = [p.phase ?? pending?.activityType?.name ?? '', retrying].filter(Boolean).join(' — ');
      if (p.bytes !== undefined) last = p;
      if (steps !== false) steps = (await askSteps(handle)) ?? steps;
      if (steps && steps.total > 0) bar?.steps(steps.done, steps.total, phase);
      else if (pending) bar?.update(p.bytes ?? last.bytes, p.totalBytes ?? last.totalBytes, phase);
    } finally {
      polling = false;
    }
  }, 1000);
  try {
    const result: T = await handle.result();
    const final = steps === false ? undefined : await askSteps(handle);
    if (final && final.total > 0) bar?.steps(final.done, final.total, 'done');
    else if (last.totalBytes) bar?.update(last.totalBytes, last.totalBytes, 'done');
    else bar?.done();
    return result;
  } finally {
    clearInterval(poll);
    bar?.stop();
  }
}

/** One line for any failure: the innermost cause of a workflow failure, or the error's own message. */
export function describeError(err: unknown): string {
  let e: unknown = err;
  if (e instanceof WorkflowFailedError) e = e.cause ?? e;
  while (e instanceof Error && e.cause instanceof Error && !(e instanceof ApplicationFailure)) e = e.cause;
  if (e instanceof ServiceError && /connect|unavailable|transport/i.test(e.message)) return `cannot reach Temporal: ${e.message}`;
  return e instanceof Error ? e.message.split('\n')[0]! : String(e);
}
