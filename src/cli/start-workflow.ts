// Starting a recovery from the CLI: one per kind and target at a time (a fixed workflow id that
// the server refuses to start twice), tagged for the Web UI's filters.
import { type Client, WorkflowExecutionAlreadyStartedError, type WorkflowHandle } from '@temporalio/client';
import type { LoadedEnvironment } from '../load-environment';
import { SearchKey } from '../lib/shared';

export interface ExclusiveStart {
  workflowType: string;
  workflowId: string;
  args: unknown[];
  summary: string;
  /** Shown under the summary in the Web UI (Markdown), e.g. the plan the run follows. */
  details?: string;
  kind: string;
  /** Names the running one in the refusal, e.g. "a restore into Redis main". */
  what: string;
}

export async function startExclusive(client: Client, loaded: LoadedEnvironment, s: ExclusiveStart): Promise<WorkflowHandle> {
  const { env } = loaded;
  try {
    return await client.workflow.start(s.workflowType, {
      taskQueue: env.taskQueue,
      workflowId: s.workflowId,
      workflowIdConflictPolicy: 'FAIL',
      args: s.args,
      staticSummary: `${s.summary} (${env.environment})`,
      staticDetails: s.details,
      typedSearchAttributes: [
        { key: SearchKey.environment, value: env.environment },
        { key: SearchKey.kind, value: s.kind },
      ],
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) throw new Error(`${s.what} is already running (workflow ${s.workflowId})`);
    throw err;
  }
}
