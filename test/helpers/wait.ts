// Waiting in tests: for a condition, never for a fixed time where a condition exists.
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `probe` returns a truthy value; errors count as "not yet". */
export function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  return untilDefined(what, async () => (await probe()) || undefined, timeoutMs, 100);
}

/** Polls until `probe` returns anything but undefined (false and 0 are answers too). */
export async function untilDefined<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000, everyMs = 50): Promise<T> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    await sleep(everyMs);
  }
  throw new Error(`timed out waiting for ${what}`);
}
