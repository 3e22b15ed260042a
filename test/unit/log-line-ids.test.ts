// Line ids must stay what earlier versions stored (a changed id would ship a stored line again):
// SHA-256 of container, time, stream, text and the line's rank among identical lines of that
// nanosecond, first 32 hex digits.
import assert from 'node:assert/strict';
import { type EngineLine, withIds } from '../../src/infra/log-source';
import { sha256Hex } from '../../src/lib/sha256';

describe('log line ids', () => {
  it('rank identical lines within one nanosecond, and only those', async () => {
    const t1 = '2026-12-04T17:00:00.000000001Z';
    const t2 = '2026-12-04T17:00:00.000000002Z';
    const lines: EngineLine[] = [
      { time: t1, stream: 'stdout', text: 'a' },
      { time: t1, stream: 'stdout', text: 'b' },
      { time: t1, stream: 'stdout', text: 'a' },
      { time: t1, stream: 'stderr', text: 'a' },
      { time: t1, stream: 'stdout', text: 'a' },
      { time: t2, stream: 'stdout', text: 'a' },
      { time: t2, stream: 'stdout', text: 'a' },
    ];
    const ranks = [0, 0, 1, 0, 2, 0, 1];
    async function* source() { yield* lines; }
    const ids: string[] = [];
    for await (const l of withIds('c0ffee', source())) ids.push(l.id);
    assert.deepEqual(ids, lines.map((l, i) => sha256Hex(`c0ffee\n${l.time}\n${l.stream}\n${l.text}\n${ranks[i]}`).slice(0, 32)));
    assert.equal(new Set(ids).size, lines.length);
    assert.equal(ids[0], '90dc5a6034c03417a41e611ed763eac4', 'the id earlier versions gave this line');
  });
});
