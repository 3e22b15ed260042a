// Host-bound work waits in its host's queue until that host's worker polls it (no schedule-to-start
// timeout: it runs by itself when the worker comes back). While it waits, this says so: the
// orchestration queue checks each host's pollers now and then, and `show` gets the messages
// ("waiting for a worker on host B (queue …)"), empty again once every host has a worker.
import { condition, setCurrentDetails } from '@temporalio/workflow';
import { type HostRoute, waitingForHost } from '../lib/hosts';
import { quickStep } from './steps';

/** While a host has no worker, look often, so the message goes as soon as one is back. */
const CHECK_WHILE_WAITING_MS = 10_000;
/** While it has one, less and less often: long restores should not fill their history with checks. */
const FIRST_CHECK_MS = 15_000;
const MAX_CHECK_MS = 5 * 60_000;

/** The hosts a workflow's input names (`host`, and `modulesHost` for work on the modules' engine). */
export type OnHosts = { host?: HostRoute; modulesHost?: HostRoute };
export const routesOf = (input: unknown): HostRoute[] => {
  const i = (input ?? {}) as OnHosts;
  return [i.host, i.modulesHost].filter((r): r is HostRoute => r !== undefined);
};

export async function whileOnHosts<T>(routes: HostRoute[], work: Promise<T>, show: (waiting: string[]) => void): Promise<T> {
  const queues = [...new Map(routes.map((r) => [r.taskQueue, r])).values()];
  if (queues.length === 0) return work;
  let settled = false;
  void work.then(() => { settled = true; }, () => { settled = true; });
  const waiting = new Map<string, string>();
  const watch = async (route: HostRoute) => {
    let every = FIRST_CHECK_MS;
    while (!(await condition(() => settled, waiting.has(route.taskQueue) ? CHECK_WHILE_WAITING_MS : every))) {
      const polled = await quickStep(`check that a worker polls ${route.taskQueue} (host ${route.host})`).hostWorkerPolling({ taskQueue: route.taskQueue });
      if (settled) break;
      if (polled === waiting.has(route.taskQueue)) {
        if (polled) waiting.delete(route.taskQueue);
        else waiting.set(route.taskQueue, waitingForHost(route));
        show([...waiting.values()]);
      }
      every = Math.min(every * 2, MAX_CHECK_MS);
    }
  };
  await Promise.all(queues.map(watch));
  if (waiting.size) show([]);
  return work;
}

/**
 * Runs a workflow's body on its hosts: the body sets its step with `details`; while a host has no
 * worker, the wait leads the workflow's current details and the step follows it.
 */
export function runOnHosts<T>(routes: HostRoute[], body: (details: (step: string) => void) => Promise<T>): Promise<T> {
  let step = '';
  let waiting: string[] = [];
  const show = () => setCurrentDetails(waiting.length ? `${waiting.map((w) => `**${w}**`).join('; ')}, to go on with: ${step}` : step);
  return whileOnHosts(routes, body((s) => { step = s; show(); }), (w) => { waiting = w; show(); });
}
