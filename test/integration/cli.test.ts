// Every titan command has --help and --json, and usage errors are one line with a non-zero exit.
import assert from 'node:assert/strict';
import { titan } from '../helpers/cli';

const commands = [['backup'], ['backups', 'list'], ['backups', 'verify'], ['restore'], ['modules', 'status'], ['modules', 'restore'], ['config', 'status'], ['config', 'resync'], ['config', 'rollback'], ['logs', 'status'], ['logs', 'resume'], ['schedules', 'apply'], ['schedules', 'list'], ['search-attributes', 'apply'],
  ['recover'], ['status'], ['sign-off'], ['report'], ['drill']];

describe('titan CLI surface', () => {
  for (const cmd of commands) {
    it(`titan ${cmd.join(' ')} --help documents the command and --json`, async () => {
      const run = await titan([...cmd, '--help']);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, new RegExp(`^Usage: titan ${cmd.join(' ')}`));
      assert.match(run.stdout, /--json/);
    });
  }

  it('an unknown option is refused with a non-zero exit', async () => {
    const run = await titan(['backup', '--clas', 'daily']);
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /^error: unknown option '--clas'/);
  });

  it('a sign-off with more than one decision is refused in one line', async () => {
    const run = await titan(['sign-off', '--stage', 'redis', '--approve', '--retry', '--by', 'alice']);
    assert.equal(run.code, 1);
    assert.equal(run.stderr, 'titan: give exactly one of --approve, --reject, --retry\n');
  });

  it('a missing environment file is one line naming it', async () => {
    const run = await titan(['--config', '/nonexistent/titan.yaml', 'backups', 'list']);
    assert.equal(run.code, 1);
    assert.equal(run.stderr, 'titan: /nonexistent/titan.yaml: environment file not found\n');
  });
});
