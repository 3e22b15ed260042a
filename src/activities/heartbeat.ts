// Heartbeats for activities that wait on something that reports no progress of its own (an
// engine stopping a container, Redis shutting down): the worker is alive, so say so.
import { Context } from '@temporalio/activity';

export async function heartbeatWhile<T>(phase: string, work: () => Promise<T>): Promise<T> {
  const ctx = Context.current();
  ctx.heartbeat({ phase });
  const timer = setInterval(() => ctx.heartbeat({ phase }), 2000);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}
