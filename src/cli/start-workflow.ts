// Starting Titan's workflows from the CLI, typed by the workflow function itself (its arguments and
// result), tagged for the Web UI's filters; exclusive ones under a fixed id the server refuses to
// start twice, and only when a worker polls the task queue (or the operator asked to wait for one).
// `runWorkflow` then follows it with a progress bar and prints its result.
import { type Client, WorkflowExecutionAlreadyStartedError, type WorkflowHandle, type WorkflowStartOptions } from '@temporalio/client';
import { type Kind, SearchKey } from '../lib/names';
import type { LoadedEnvironment } from '../load-environment';
import type * as workflows from '../workflows';
import { followWithProgress, printResult } from './output';
import { requireWorker } from './worker-check';

type Workflows = typeof workflows;
export type WorkflowName = keyof Workflows;
export type WorkflowResult<N extends WorkflowName> = Awaited<ReturnType<Workflows[N]>>;

export interface WorkflowStart<N extends WorkflowName> {
  workflow: N;
  workflowId: string;
  args: Parameters<Workflows[N]>;
  summary: string;
  /** Shown under the summary in the Web UI (Markdown), e.g. the plan the run follows. */
  details?: string;
  kind: Kind;
  /** Exclusive starts name the running one in the refusal, e.g. "a restore into Redis main". */
  exclusive?: string;
}

/** Set once from the global --wait-for-worker option: start even when no worker polls, and wait. */
export const workerPolicy = { waitForWorker: false };

export async function startWorkflow<N extends WorkflowName>(client: Client, loaded: LoadedEnvironment, s: WorkflowStart<N>): Promise<WorkflowHandle<Workflows[N]>> {
  const { env } = loaded;
  await requireWorker(client, env.taskQueue, workerPolicy.waitForWorker);
  try {
    // The SDK's conditional options type cannot be resolved for a generic N; `args` is typed by WorkflowStart.
    return await client.workflow.start<Workflows[N]>(s.workflow, {
      taskQueue: env.taskQueue,
      workflowId: s.workflowId,
      ...(s.exclusive ? { workflowIdConflictPolicy: 'FAIL' as const } : {}),
      args: s.args,
      staticSummary: `${s.summary} (${env.environment})`,
      staticDetails: s.details,
      typedSearchAttributes: [
        { key: SearchKey.environment, value: env.environment },
        { key: SearchKey.kind, value: s.kind },
      ],
    } as WorkflowStartOptions<Workflows[N]>);
  } catch (err) {
    if (s.exclusive && err instanceof WorkflowExecutionAlreadyStartedError) throw new Error(`${s.exclusive} is already running (workflow ${s.workflowId})`);
    throw err;
  }
}

/** Starts the workflow, follows it (stderr: "started", then a progress bar), prints its result. */
export async function runWorkflow<N extends WorkflowName>(
  client: Client, loaded: LoadedEnvironment, s: WorkflowStart<N> & { label: string },
  out: { json: boolean; describe(r: WorkflowResult<N>): string },
): Promise<WorkflowResult<N>> {
  const handle = await startWorkflow(client, loaded, s);
  if (!out.json) process.stderr.write(`${s.label} workflow ${handle.workflowId} started\n`);
  const result = await followWithProgress<WorkflowResult<N>>(handle, out.json, s.label);
  printResult(out.json, { workflowId: handle.workflowId, ...result }, () => out.describe(result));
  return result;
}
