// scripts/stack.sh as the tests' own prerequisite: status tells what runs where; `up` again is a no-op.
import assert from 'node:assert/strict';
import { stackCtl } from '../helpers/stack';

function pids(status: string): Record<string, string> {
  return Object.fromEntries([...status.matchAll(/^(\S+)\s+running pid (\d+)/gm)].map((m) => [m[1]!, m[2]!]));
}

describe('the local stack', () => {
  it('status lists every service running, on 127.0.0.1', () => {
    const status = stackCtl('status');
    assert.deepEqual(Object.keys(pids(status)).sort(), ['redis', 's3-offsite', 's3-primary', 'temporal']);
    for (const line of status.trim().split('\n')) assert.match(line, /127\.0\.0\.1/);
  });

  it('`up` twice is harmless: nothing is restarted', () => {
    const before = pids(stackCtl('status'));
    const out = stackCtl('up');
    assert.match(out, /already running/);
    assert.deepEqual(pids(stackCtl('status')), before);
  });
});
