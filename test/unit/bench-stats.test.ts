// The benchmarks' verdicts rest on these: the median of the rounds, and how far it can be trusted.
import assert from 'node:assert/strict';
import { median, medianInterval } from '../../bench/proc';
import { prng } from '../helpers/prng';

describe('benchmark statistics', () => {
  it('the median: the middle value, or of an even count the mean of the two middle ones', () => {
    assert.equal(median([3, 1, 2]), 2);
    const xs = [4, 1, 3, 2];
    assert.equal(median(xs), 2.5);
    assert.deepEqual(xs, [4, 1, 3, 2], 'the rounds are not sorted in place (they are printed in order)');
  });

  it('a 95 % interval for the median: around it, exact when the rounds agree, narrower with more rounds', () => {
    assert.deepEqual(medianInterval([1.04, 1.04, 1.04]), [1.04, 1.04]);
    const next = prng(3);
    const rounds = (n: number) => Array.from({ length: n }, () => 1 + ((next() % 300) - 150) / 1000); // ±15 %, as on the bench's VM
    const few = rounds(6);
    const many = [...few, ...rounds(54)];
    for (const xs of [few, many]) {
      const [low, high] = medianInterval(xs);
      assert.ok(low <= median(xs) && median(xs) <= high, `${low} ≤ ${median(xs)} ≤ ${high}`);
    }
    const width = (xs: number[]) => medianInterval(xs)[1] - medianInterval(xs)[0];
    assert.ok(width(many) < width(few) / 1.5, `60 rounds (${width(many)}) pin the median down better than 6 (${width(few)})`);
    assert.deepEqual(medianInterval(few), medianInterval(few), 'the same rounds give the same interval (fixed seed)');
  });
});
