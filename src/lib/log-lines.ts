// Log lines as Titan ships and checks them: engine timestamps with their nanoseconds, the runs of
// lines missing from the store, the store's retention. Pure, so workflows may import it.

/**
 * An RFC 3339 time with exactly nine fractional digits in UTC ("…T20:11:02.123456789Z"), so that
 * comparing two strings compares the times (the engine and the store both trim trailing zeros).
 */
export type EngineTime = string;

export function normalizeTime(t: string): EngineTime {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(t);
  if (!m) throw new Error(`"${t}" is not an RFC 3339 time`);
  if (m[3] === 'Z') return `${m[1]}.${(m[2] ?? '').padEnd(9, '0')}Z`;
  // An offset: shift the whole seconds through Date, keep the nanoseconds.
  const whole = new Date(`${m[1]}${m[3]}`).toISOString().slice(0, 19);
  return `${whole}.${(m[2] ?? '').padEnd(9, '0')}Z`;
}

/** The engine's `since`/`until` parameter: Unix seconds with nanoseconds ("1764619862.123456789"). */
export function engineTime(t: EngineTime): string {
  return `${Date.parse(`${t.slice(0, 19)}Z`) / 1000}.${t.slice(20, 29)}`;
}

/** The minute a line falls in, for per-minute counts ("2026-12-01T20:11"). */
export const minuteOf = (t: EngineTime) => t.slice(0, 16);

/** A run of consecutive source lines the store does not hold. */
export interface LogGap {
  container: string;
  from: EngineTime;
  to: EngineTime;
  count: number;
}

/**
 * Feeds source lines in order, one container after the other; returns the runs of lines the store
 * does not hold. A run ends at the first stored line after it or at the end of a container.
 */
export function gapFinder() {
  const gaps: LogGap[] = [];
  let open: LogGap | undefined;
  return {
    line(container: string, time: EngineTime, stored: boolean) {
      if (open && (stored || open.container !== container)) open = undefined;
      if (stored) return;
      if (open) {
        open.to = time;
        open.count++;
      } else {
        open = { container, from: time, to: time, count: 1 };
        gaps.push(open);
      }
    },
    gaps: () => gaps,
  };
}

/**
 * Days a VictoriaLogs `-retentionPeriod` keeps: a number with s, h, d, w or y, or months (of 31
 * days) without a unit, as VictoriaMetrics' flags count them.
 */
export function retentionDays(period: string): number {
  const m = /^(\d+(?:\.\d+)?)([shdwy]?)$/.exec(period.trim());
  if (!m) throw new Error(`"${period}" is not a retention period`);
  const n = Number(m[1]);
  return { s: n / 86_400, h: n / 24, d: n, w: n * 7, y: n * 365, '': n * 31 }[m[2] as 'h'];
}
