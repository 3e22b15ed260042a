// Host-bound work waits in its host's queue until that host's worker polls it (no schedule-to-start
// timeout: it runs by itself when the worker comes back). While it waits, this says so: the
// orchestration queue checks the host's pollers now and then, and `show` gets the message
// (current details, the recovery's status) and, once a worker polls again, undefined.
import { condition } from '@temporalio/workflow';
import { type HostRoute, waitingForHost } from '../lib/hosts';
import { quickStep } from './steps';

/** While the host has no worker, look often, so the message goes as soon as one is back. */
const CHECK_WHILE_WAITING_MS = 10_000;
/** While it has one, less and less often: long restores should not fill their history with checks. */
const FIRST_CHECK_MS = 15_000;
const MAX_CHECK_MS = 5 * 60_000;

export async function whileOnHost<T>(route: HostRoute | undefined, work: Promise<T>, show: (waiting: string | undefined) => void): Promise<T> {
  if (!route) return work;
  let settled = false;
  void work.then(() => { settled = true; }, () => { settled = true; });
  let waiting = false;
  let every = FIRST_CHECK_MS;
  while (!(await condition(() => settled, waiting ? CHECK_WHILE_WAITING_MS : every))) {
    const polled = await quickStep(`check that a worker polls ${route.taskQueue} (host ${route.host})`).hostWorkerPolling({ taskQueue: route.taskQueue });
    if (settled) break;
    if (polled === waiting) show((waiting = !polled) ? waitingForHost(route) : undefined);
    every = Math.min(every * 2, MAX_CHECK_MS);
  }
  if (waiting) show(undefined);
  return work;
}
