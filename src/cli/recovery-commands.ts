// `titan recover|status|sign-off|report`: start the full-disaster recovery of the environment (one
// at a time), follow it until it waits for a person, sign its stages off, read its report.
import { setTimeout as sleep } from 'node:timers/promises';
import { type Client, type WorkflowHandle, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { buildDeps } from '../deps';
import { encryptedPayloadsByKey } from '../infra/payload-codec';
import { readRecoveryReport } from '../infra/recovery-reports';
import type { LoadedEnvironment } from '../load-environment';
import type { StageName } from '../lib/config';
import { Kind, WorkflowId } from '../lib/names';
import { resolveRecoveryPlan } from '../lib/recovery-plan';
import type { Decision, RecoveryStatus, SignOff } from '../lib/recovery-report';
import { recoveryStatusQuery, signOffUpdate } from '../lib/messages';
import { printResult, retryNote, table } from './output';
import { startWorkflow } from './start-workflow';

const POLL_MS = 1000;
/** After this long without an answer to the Query, say that no worker seems to run. */
const NO_WORKER_HINT_MS = 15_000;

const recoveryWorkflowId = (loaded: LoadedEnvironment) => WorkflowId.recovery(loaded.env);

export function workflowLink(client: Client, workflowId: string): string {
  const ui = process.env.TITAN_UI ?? 'http://127.0.0.1:8233';
  return `${ui}/namespaces/${encodeURIComponent(client.options.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

/** Starts the recovery under the environment's fixed id; a second one is refused while it runs. */
export async function startRecovery(client: Client, loaded: LoadedEnvironment, incidentAt?: string): Promise<WorkflowHandle> {
  // A file without a usable recovery section, or a bad time, fails here, before anything starts.
  const plan = resolveRecoveryPlan(loaded.env, { incidentAt });
  return startWorkflow(client, loaded, {
    workflow: 'fullDisasterRecovery',
    workflowId: recoveryWorkflowId(loaded),
    args: [{ incidentAt }],
    summary: 'Full-disaster recovery',
    details: [
      `Incident: ${incidentAt ?? 'not given (the recovery start is used for the RPO)'}`,
      '',
      ...plan.stages.map((s, i) => `${i + 1}. **${s.name}**: ${s.summary} — signed off by ${s.approvers.join(' or ')}`),
    ].join('\n'),
    kind: Kind.recovery,
    exclusive: `a recovery of ${loaded.env.environment}`,
  });
}

export async function recoverCommand(client: Client, loaded: LoadedEnvironment, opts: { incidentAt?: string; json: boolean }) {
  const handle = await startRecovery(client, loaded, opts.incidentAt);
  const link = workflowLink(client, handle.workflowId);
  if (!opts.json) process.stderr.write(`recovery ${handle.workflowId} started: ${link}\n`);
  const status = await followUntilSignOff(client, handle, opts.json);
  printResult(opts.json, { workflowId: handle.workflowId, ui: link, status }, () => describeWait(status, handle.workflowId, loaded));
}

/** Prints stage transitions (stderr) until the recovery waits for a sign-off or ends. */
async function followUntilSignOff(client: Client, handle: WorkflowHandle, json: boolean): Promise<RecoveryStatus> {
  const seen = new Map<StageName, string>();
  let retries = '';
  const t0 = Date.now();
  let hinted = false;
  for (;;) {
    const s = await handle.query(recoveryStatusQuery).catch(() => undefined);
    if (s) {
      for (const st of s.stages) {
        const a = st.attempts[st.attempts.length - 1];
        const line = `stage ${st.name}: ${st.state}${a ? ` (attempt ${a.attempt}, child ${a.childWorkflowId})` : ''}${a?.summary && st.state !== 'running' ? ` — ${a.summary}` : ''}${st.waitingFor?.length ? ` — ${st.waitingFor.join('; ')}` : ''}`;
        if (st.state !== 'pending' && seen.get(st.name) !== line && !json) process.stderr.write(`${line}\n`);
        seen.set(st.name, line);
      }
      if (s.waiting || s.outcome !== 'running') return s;
      const now = (await stageRetries(client, s)).map(retryLine).join('\n');
      if (now && now !== retries && !json) process.stderr.write(`${now}\n`);
      retries = now;
    } else {
      // No status yet: not picked up by a worker, or it ended before it had one (e.g. no plan).
      const d = await handle.describe();
      if (d.status.name !== 'RUNNING') await handle.result();
      if (!hinted && Date.now() - t0 > NO_WORKER_HINT_MS && !json) {
        process.stderr.write(`no answer yet: is a titan worker running on task queue ${d.taskQueue}?\n`);
        hinted = true;
      }
    }
    await sleep(POLL_MS);
  }
}

function describeWait(s: RecoveryStatus, workflowId: string, loaded: LoadedEnvironment): string {
  const w = s.waiting;
  if (!w) return `recovery ${s.outcome}${s.endedAt ? ` at ${s.endedAt}` : ''}`;
  const id = workflowId === recoveryWorkflowId(loaded) ? '' : ` ${workflowId}`;
  return [
    `stage ${w.stage} (attempt ${w.attempt}) waits for a sign-off from ${w.approvers.join(' or ')}:`,
    ...w.decisions.map((d) => `  titan sign-off${id} --stage ${w.stage} --${d} --by <you> [--comment "..."]`),
    `follow it with: titan status${id}`,
  ].join('\n');
}

/**
 * What to say instead of Temporal's "workflow not found" / "already completed": no recovery was
 * started, or it ended (its report says how). Undefined when the error is something else.
 */
async function recoveryGone(client: Client, loaded: LoadedEnvironment, id: string, err: unknown, action: string): Promise<Error | undefined> {
  if (!(err instanceof WorkflowNotFoundError)) return undefined;
  const status = await client.workflow.getHandle(id).describe().then((d) => d.status.name, (e: unknown) => {
    if (e instanceof WorkflowNotFoundError) return undefined;
    throw e;
  });
  if (status === undefined) {
    return new Error(id === recoveryWorkflowId(loaded)
      ? `no recovery of environment ${loaded.env.environment} is running (start one with titan recover)`
      : `no recovery ${id} in namespace ${client.options.namespace} (titan status without an id shows environment ${loaded.env.environment}'s)`);
  }
  if (status === 'RUNNING') return undefined;
  return new Error(`${action}: recovery ${id} already ${status.toLowerCase().replace(/_/g, ' ')} (see titan report ${id})`);
}

export async function statusCommand(client: Client, loaded: LoadedEnvironment, opts: { id?: string; json: boolean }) {
  const id = opts.id ?? recoveryWorkflowId(loaded);
  // Checked first: a worker lacking the key would only let the Query time out.
  const unreadable = await unreadableHistory(client, id);
  if (unreadable) throw unreadable;
  let s: RecoveryStatus;
  try {
    s = await client.workflow.getHandle(id).query(recoveryStatusQuery);
  } catch (err) {
    throw (await recoveryGone(client, loaded, id, err, 'no status')) ?? err;
  }
  const retrying = await stageRetries(client, s);
  printResult(opts.json, { ...s, retrying }, () => [
    `recovery ${s.workflowId} (${s.environment}): ${s.outcome}, started ${s.startedAt}${s.incidentAt ? `, incident ${s.incidentAt}` : ''}`,
    table(s.stages.map((st) => {
      const a = st.attempts[st.attempts.length - 1];
      return {
        stage: st.name,
        state: st.state,
        attempts: String(st.attempts.length),
        child: a?.childWorkflowId ?? '-',
        started: a?.startedAt ?? '-',
        ended: a?.endedAt ?? '-',
        'signed off': st.signOffs.map((x) => `${x.decision} by ${x.by}`).join(', ') || '-',
      };
    })),
    ...s.stages.flatMap((st) => (st.waitingFor ?? []).map((w) => `stage ${st.name}: ${w}`)),
    s.waiting ? `waiting since ${s.waiting.since} for ${s.waiting.approvers.join(' or ')} to sign off stage ${s.waiting.stage}: ${s.waiting.decisions.join(', ')}` : '',
    ...retrying.map(retryLine),
    ...s.problems.map((p) => `problem: ${p}`),
    ...s.warnings.map((w) => `warning: ${w}`),
  ].filter(Boolean).join('\n'));
}

/**
 * Why no worker can answer for this workflow when its history holds payloads under a key this
 * environment lacks (removed too early): its workflow tasks fail until the key is back.
 */
async function unreadableHistory(client: Client, id: string): Promise<Error | undefined> {
  const history = await client.workflow.getHandle(id).fetchHistory().catch(() => undefined);
  const [codec] = client.options.loadedDataConverter.payloadCodecs;
  if (!history || !codec) return undefined;
  for (const [keyId, payload] of encryptedPayloadsByKey(history)) {
    const problem = await codec.decode([payload]).then(() => undefined, (err: Error) => err.message);
    if (problem) return new Error(`recovery ${id} cannot be read: its history needs payload key ${keyId}, which is not configured (temporal.encryption.keys); its workflow tasks fail until the key is back. ${problem}`);
  }
  return undefined;
}

const retryLine = (r: { stage: StageName; activity: string; note: string }) => `stage ${r.stage}: ${r.activity} ${r.note}`;

/** The running stages' activities that are retrying, from their child workflows' pending activities. */
async function stageRetries(client: Client, s: RecoveryStatus): Promise<{ stage: StageName; activity: string; note: string }[]> {
  const running = s.stages.flatMap((st) => {
    const a = st.attempts[st.attempts.length - 1];
    return st.state === 'running' && a ? [{ stage: st.name, child: a.childWorkflowId }] : [];
  });
  const found = await Promise.all(running.map(async ({ stage, child }) => {
    const d = await client.workflow.getHandle(child).describe().catch(() => undefined);
    const notes = await Promise.all((d?.raw.pendingActivities ?? []).map(async (p) => {
      const note = await retryNote(client.options.loadedDataConverter, p);
      return note ? [{ stage, activity: p.activityType?.name ?? 'activity', note }] : [];
    }));
    return notes.flat();
  }));
  return found.flat();
}

export async function signOffCommand(client: Client, loaded: LoadedEnvironment, opts: { id?: string; decision: Decision; json: boolean } & Omit<SignOff, 'decision'>) {
  const id = opts.id ?? recoveryWorkflowId(loaded);
  const handle = client.workflow.getHandle(id);
  const signOff: SignOff = { stage: opts.stage, decision: opts.decision, by: opts.by, ...(opts.comment ? { comment: opts.comment } : {}) };
  let signed;
  try {
    signed = await handle.executeUpdate(signOffUpdate, { args: [signOff] });
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) throw new Error(`sign-off refused: ${err.cause?.message ?? err.message}`);
    throw (await recoveryGone(client, loaded, id, err, 'sign-off refused')) ?? err;
  }
  printResult(opts.json, signed, () => `stage ${signed.stage} (attempt ${signed.attempt}): ${signed.decision} by ${signed.by} recorded at ${signed.at}`);
}

export async function reportCommand(loaded: LoadedEnvironment, opts: { id?: string; runId?: string; json: boolean }) {
  const id = opts.id ?? recoveryWorkflowId(loaded);
  const found = await readRecoveryReport(buildDeps(loaded).stores.primary, id, opts.runId);
  if (!found) throw new Error(`no report stored for recovery ${id}${opts.runId ? ` run ${opts.runId}` : ''} (it is written when the recovery ends; see titan status ${id})`);
  process.stdout.write(opts.json ? `${JSON.stringify(found.report, null, 2)}\n` : found.markdown);
}
