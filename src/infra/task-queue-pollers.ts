// Whether a worker polls a task queue now (DescribeTaskQueue): the CLI checks before it starts a
// workflow, and workflows check a host's queue while its work waits (activities/host.ts).
import type { Client } from '@temporalio/client';
import { optionalTsToMs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';

export const { TaskQueueType } = temporal.api.enums.v1;

/** A worker long-polls about once a minute; the server keeps a gone poller listed for 5 minutes, so only recent ones count. */
const POLLER_FRESH_MS = 90_000;

/** gRPC's UNIMPLEMENTED: a server without DescribeTaskQueue (Temporal's time-skipping test server). */
const UNIMPLEMENTED = 12;

/**
 * Whether a worker polls the task queue for every one of the task types; true when the server
 * cannot tell, so the check never blocks a server without it.
 */
export async function workerPolls(client: Client, taskQueue: string, types: temporal.api.enums.v1.TaskQueueType[]): Promise<boolean> {
  let answers;
  try {
    answers = await Promise.all(types.map((taskQueueType) => client.workflowService.describeTaskQueue({
      namespace: client.options.namespace,
      taskQueue: { name: taskQueue },
      taskQueueType,
    })));
  } catch (err) {
    if ((err as { code?: number }).code === UNIMPLEMENTED) return true;
    throw err;
  }
  const now = Date.now();
  return answers.every((a) => (a.pollers ?? []).some((p) => now - (optionalTsToMs(p.lastAccessTime) ?? 0) < POLLER_FRESH_MS));
}
