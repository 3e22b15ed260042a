// The pure decisions of a restore: candidate order, RDB versions per Redis release, and whether
// restored key counts are explained by keys that expired since the snapshot.
import assert from 'node:assert/strict';
import { checkKeyCounts, maxExpiredBy, maxRdbVersion, newExpiryHistogram, orderCandidates, recordExpiry } from '../../src/lib/restore-plan';

describe('restore plan', function () {
  const listed = [
    { id: 'main-20261101T000000Z-a', location: 'primary' as const, createdAt: '2026-11-01T00:00:00Z' },
    { id: 'main-20261101T000000Z-a', location: 'offsite' as const, createdAt: '2026-11-01T00:00:00Z' },
    { id: 'main-20261102T000000Z-b', location: 'offsite' as const, createdAt: '2026-11-02T00:00:00Z' },
    { id: 'main-20261102T000000Z-b', location: 'primary' as const, createdAt: '2026-11-02T00:00:00Z', problem: 'no manifest' },
    { id: 'main-20261103T000000Z-c', location: 'primary' as const, createdAt: '2026-11-03T00:00:00Z' },
  ];

  it('orders candidates newest first, primary before off-site, and lists copies the cheap checks refused', function () {
    const { candidates, rejected } = orderCandidates(listed, {});
    assert.deepEqual(candidates.map((c) => [c.id.slice(-1), c.locations]), [['c', ['primary']], ['b', ['offsite']], ['a', ['primary', 'offsite']]]);
    assert.deepEqual(rejected, [{ id: 'main-20261102T000000Z-b', location: 'primary', problem: 'no manifest' }]);
  });

  it('--before keeps backups taken strictly before the time; --backup keeps one', function () {
    assert.deepEqual(orderCandidates(listed, { before: '2026-11-03T00:00:00Z' }).candidates.map((c) => c.id.slice(-1)), ['b', 'a']);
    assert.deepEqual(orderCandidates(listed, { backupId: 'main-20261101T000000Z-a' }).candidates.map((c) => c.id.slice(-1)), ['a']);
  });

  it('knows which RDB version each Redis release reads', function () {
    assert.deepEqual(['6.2.14', '7.0.15', '7.2.4', '7.4.1', '8.0.0', 'unknown'].map(maxRdbVersion), [9, 10, 11, 12, 12, undefined]);
  });

  it('counts: keys without a TTL must match exactly; keys with a TTL may only be missing if they can have expired', function () {
    const t0 = Date.parse('2026-11-25T12:00:00Z');
    const h = newExpiryHistogram(t0);
    recordExpiry(h, 0, t0 - 5000); // already expired when staged
    recordExpiry(h, 0, t0 + 10_000);
    recordExpiry(h, 0, t0 + 3_600_000);
    const snapshot = { 0: { keys: 10, expires: 3 } };
    assert.equal(maxExpiredBy(h, '0', t0 + 11_000), 2);

    const ok = checkKeyCounts(snapshot, { 0: { keys: 8, expires: 1 } }, h, t0 + 11_000);
    assert.deepEqual(ok.problems, []);
    assert.equal(ok.dbs['0']!.expiredSince, 2);

    assert.match(checkKeyCounts(snapshot, { 0: { keys: 7, expires: 0 } }, h, t0 + 11_000).problems[0]!, /3 keys with a TTL missing, but only 2 could have expired/);
    assert.match(checkKeyCounts(snapshot, { 0: { keys: 9, expires: 3 } }, h, t0).problems[0]!, /db0: 6 keys without a TTL, the snapshot has 7/);
    assert.match(checkKeyCounts(snapshot, {}, h, t0).problems[0]!, /db0: 0 keys without a TTL/);
    assert.match(checkKeyCounts({}, { 4: { keys: 1, expires: 0 } }, h, t0).problems[0]!, /db4: 1 keys without a TTL, the snapshot has 0/);
  });
});
