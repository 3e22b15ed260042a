// The pure parts of the Elasticsearch-API store: lifecycle ages, the field of a mapping error, how
// an unknown or short retention is reported, and which clusters get the bloom filter on `_id`.
import assert from 'node:assert/strict';
import { ageDays, conflictField, indexSettings } from '../../src/infra/es-index-setup';
import { retentionProblems, retentionSummary } from '../../src/lib/log-verdicts';

describe('Elasticsearch lifecycle and mapping errors', () => {
  it('reads ILM/ISM ages in days', () => {
    assert.deepEqual(['30d', '720h', '1440m', '86400s', '1.5d'].map(ageDays), [30, 30, 1, 1, 1.5]);
    assert.throws(() => ageDays('a month'), /not an Elasticsearch time value/);
  });

  it('asks for the bloom filter on _id only of OpenSearch 2.13 and later (Elasticsearch and older OpenSearch refuse the setting)', () => {
    const bloom = (distribution: 'opensearch' | 'elasticsearch', version: string) =>
      indexSettings({ distribution, version })['index.optimize_doc_id_lookup.fuzzy_set.enabled'] === true;
    assert.deepEqual(['1.3.20', '2.12.0', '2.13.0', '2.19.4', '3.0.0'].map((v) => bloom('opensearch', v)), [false, false, true, true, true]);
    assert.deepEqual(['7.17.0', '8.15.1'].map((v) => bloom('elasticsearch', v)), [false, false]);
    assert.equal(indexSettings({ distribution: 'opensearch', version: '2.19.4' }).number_of_shards, 1);
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
