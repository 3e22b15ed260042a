import assert from 'node:assert/strict';
import { engineTime, gapFinder, normalizeTime, retentionDays } from '../../src/lib/log-lines';

describe('log lines', () => {
  it('times get nine fractional digits in UTC, so comparing strings compares times', () => {
    assert.equal(normalizeTime('2026-12-01T20:11:02.1234Z'), '2026-12-01T20:11:02.123400000Z');
    assert.equal(normalizeTime('2026-12-01T20:11:02Z'), '2026-12-01T20:11:02.000000000Z');
    assert.equal(normalizeTime('2026-12-01T21:11:02.000000001+01:00'), '2026-12-01T20:11:02.000000001Z');
    const [a, b] = [normalizeTime('2026-12-01T20:11:02.9Z'), normalizeTime('2026-12-01T20:11:02.000000010Z')];
    assert.ok(b < a, 'nanoseconds order correctly as strings');
    assert.throws(() => normalizeTime('yesterday'), /"yesterday" is not an RFC 3339 time/);
  });

  it("the engine's since/until parameter keeps the nanoseconds", () => {
    assert.equal(engineTime('2026-12-01T20:11:02.000000001Z'), '1796155862.000000001');
  });

  it('gaps are runs of consecutive missing lines, per container', () => {
    const g = gapFinder();
    const stored = [true, false, false, true, false];
    stored.forEach((s, i) => g.line('c1', `t${i}`, s));
    g.line('c2', 'u0', false);
    assert.deepEqual(g.gaps(), [
      { container: 'c1', from: 't1', to: 't2', count: 2 },
      { container: 'c1', from: 't4', to: 't4', count: 1 },
      { container: 'c2', from: 'u0', to: 'u0', count: 1 },
    ]);
  });

  it("retention periods count as VictoriaMetrics' flags do", () => {
    assert.deepEqual(['35d', '4w', '1y', '12h', '2'].map(retentionDays), [35, 28, 365, 0.5, 62]);
    assert.throws(() => retentionDays('forever'), /not a retention period/);
  });
});
