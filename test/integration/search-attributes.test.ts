// `titan search-attributes apply` on the real dev server: a fresh namespace gets every attribute of
// lib/search-attributes.json (the list the stack also registers); a second apply adds nothing.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { SEARCH_ATTRIBUTES } from '../../src/lib/names';
import { titan } from '../helpers/cli';
import { TEMPORAL_ADDRESS, temporalBin, uniqueName } from '../helpers/stack';

describe('titan search-attributes apply', function () {
  const namespace = uniqueName('titan-sa');
  const names = Object.keys(SEARCH_ATTRIBUTES).sort();

  before(() => {
    execFileSync(temporalBin, ['operator', 'namespace', 'create', '--namespace', namespace, '--address', TEMPORAL_ADDRESS]);
  });
  after(() => {
    execFileSync(temporalBin, ['operator', 'namespace', 'delete', '--namespace', namespace, '--yes', '--address', TEMPORAL_ADDRESS]);
  });

  it('adds what a fresh namespace lacks, then finds them all present', async function () {
    // A namespace created a moment ago may not be served by every frontend yet.
    let first;
    for (let i = 0; i < 20; i++) {
      first = await titan(['--json', 'search-attributes', 'apply'], { TEMPORAL_NAMESPACE: namespace });
      if (first.code === 0) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.equal(first!.code, 0, first!.stderr);
    assert.deepEqual(JSON.parse(first!.stdout), { added: names, present: [] });
    const listed = execFileSync(temporalBin, ['operator', 'search-attribute', 'list', '--namespace', namespace, '--address', TEMPORAL_ADDRESS], { encoding: 'utf8' });
    for (const n of names) assert.match(listed, new RegExp(`\\b${n}\\s+Keyword`));
    const again = await titan(['--json', 'search-attributes', 'apply'], { TEMPORAL_NAMESPACE: namespace });
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(JSON.parse(again.stdout), { added: [], present: names });
  });
});
