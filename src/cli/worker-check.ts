// Before a command starts a workflow: is a worker polling its task queue? Without one the workflow
// would sit "started" forever without a word, so the command says so within seconds instead.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import { TaskQueueType, workerPolls as pollsFor } from '../infra/task-queue-pollers';

/** A worker just started may not have polled yet: look again for this long. */
const CHECK_FOR_MS = 5_000;
const CHECK_EVERY_MS = 1_000;

/** Whether a worker polls the task queue for both workflow and activity tasks (Titan's workers do both). */
export const workerPolls = (client: Client, taskQueue: string) =>
  pollsFor(client, taskQueue, [TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY]);

export const noWorkerMessage = (taskQueue: string) => `no worker is polling ${taskQueue}: start it with npm start (or the worker service)`;

/**
 * Throws (nothing started) when no worker polls the task queue within a few seconds, unless the
 * operator asked to wait: then it says so once and the command goes on.
 */
export async function requireWorker(client: Client, taskQueue: string, waitForWorker: boolean): Promise<void> {
  const deadline = Date.now() + CHECK_FOR_MS;
  for (;;) {
    if (await workerPolls(client, taskQueue)) return;
    if (Date.now() >= deadline) break;
    await sleep(CHECK_EVERY_MS);
  }
  if (!waitForWorker) throw new Error(`${noWorkerMessage(taskQueue)}; nothing was started (--wait-for-worker starts it anyway and waits)`);
  process.stderr.write(`${noWorkerMessage(taskQueue)}; starting anyway and waiting for one (--wait-for-worker)\n`);
}
