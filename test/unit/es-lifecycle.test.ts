// The pure parts of the Elasticsearch-API store: lifecycle ages, the field of a mapping error, and
// how an unknown or short retention is reported.
import assert from 'node:assert/strict';
import { ageDays, conflictField } from '../../src/infra/es-index-setup';
import { retentionProblems, retentionSummary } from '../../src/lib/log-verdicts';

describe('Elasticsearch lifecycle and mapping errors', () => {
  it('reads ILM/ISM ages in days', () => {
    assert.deepEqual(['30d', '720h', '1440m', '86400s', '1.5d'].map(ageDays), [30, 30, 1, 1, 1.5]);
    assert.throws(() => ageDays('a month'), /not an Elasticsearch time value/);
  });

  it('names the field of a bulk item\'s mapping error', () => {
    assert.equal(conflictField("failed to parse field [module] of type [long] in document with id 'x'"), 'module');
    assert.equal(conflictField('something else'), undefined);
  });

  it('reports no lifecycle policy against the plan, and a declared one as declared', () => {
    const base = { store: 'OpenSearch 2.19.4 at http://x (index logs)', minRetentionDays: 30, modules: [] };
    assert.deepEqual(retentionProblems({ ...base, retentionNote: 'no lifecycle policy (ISM not installed)' }),
      ['OpenSearch 2.19.4 at http://x (index logs) has no lifecycle policy (ISM not installed); the plan asks for at least 30 days of logs']);
    assert.deepEqual(retentionProblems({ ...base, retentionDays: 35, retentionNote: 'declared in the environment file' }), []);
    assert.equal(retentionSummary({ retentionDays: 35, retentionNote: 'ISM policy keep-35' }), 'keeps 35 days (ISM policy keep-35)');
  });
});
