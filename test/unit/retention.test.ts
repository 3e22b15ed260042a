import assert from 'node:assert/strict';
import { decideRetention, retainUntil, type StoredBackup } from '../../src/lib/retention';

const now = new Date('2026-11-25T12:00:00Z');
const hoursAgo = (h: number) => new Date(now.getTime() - h * 3_600_000);
const policy = { hourlyHours: 48, dailyDays: 35, orphanGraceHours: 6 };

describe('tiered retention', () => {
  it('deletes exactly the expired backups and says why', () => {
    const backups: StoredBackup[] = [
      { id: 'h-fresh', createdAt: hoursAgo(1), retentionClass: 'hourly' },
      { id: 'h-47h', createdAt: hoursAgo(47), retentionClass: 'hourly' },
      { id: 'h-49h', createdAt: hoursAgo(49), retentionClass: 'hourly' },
      { id: 'd-34d', createdAt: hoursAgo(34 * 24), retentionClass: 'daily' },
      { id: 'd-36d', createdAt: hoursAgo(36 * 24), retentionClass: 'daily' },
      { id: 'orphan-2h', createdAt: hoursAgo(2) },
      { id: 'orphan-7h', createdAt: hoursAgo(7) },
    ];
    const r = decideRetention(backups, policy, now);
    assert.deepEqual(r.delete.map((d) => d.id).sort(), ['d-36d', 'h-49h', 'orphan-7h']);
    assert.deepEqual(r.keep.sort(), ['d-34d', 'h-47h', 'h-fresh', 'orphan-2h']);
    assert.match(r.delete.find((d) => d.id === 'h-49h')!.reason, /^hourly backup 2\.0 days old > 48 h$/);
    assert.match(r.delete.find((d) => d.id === 'd-36d')!.reason, /^daily backup 36\.0 days old > 35 days$/);
    assert.match(r.delete.find((d) => d.id === 'orphan-7h')!.reason, /^no manifest/);
  });

  it('never deletes the newest valid backup, even when everything has expired', () => {
    const r = decideRetention([
      { id: 'old', createdAt: hoursAgo(90 * 24), retentionClass: 'daily' },
      { id: 'newest', createdAt: hoursAgo(60 * 24), retentionClass: 'daily' },
      { id: 'newer-orphan', createdAt: hoursAgo(10) },
    ], policy, now);
    assert.deepEqual(r.keep, ['newest']);
    assert.deepEqual(r.delete.map((d) => d.id).sort(), ['newer-orphan', 'old']);
  });

  it('locks a backup exactly as long as its class is kept', () => {
    assert.equal(retainUntil(now, 'hourly', policy).toISOString(), '2026-11-27T12:00:00.000Z');
    assert.equal(retainUntil(now, 'daily', policy).toISOString(), '2026-12-30T12:00:00.000Z');
    // Retention deletes a backup only once past that date, never before.
    const at = (d: Date) => decideRetention([{ id: 'old', createdAt: now, retentionClass: 'hourly' }, { id: 'new', createdAt: new Date(d.getTime() + 1), retentionClass: 'hourly' }], policy, d).delete.map((x) => x.id);
    const until = retainUntil(now, 'hourly', policy);
    assert.deepEqual([at(until), at(new Date(until.getTime() + 1000))], [[], ['old']]);
  });
});
