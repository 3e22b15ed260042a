// Tiered retention: pure decisions over what a location holds, so the rules are unit-testable
// and the activity only lists and deletes.
import type { RetentionClass } from './manifest';

export interface RetentionPolicy {
  hourlyHours: number;
  dailyDays: number;
  /** Objects without a manifest younger than this may be a backup still uploading. */
  orphanGraceHours: number;
}

export interface StoredBackup {
  id: string;
  /** Creation time (manifest createdAt, or the object's LastModified when there is no manifest). */
  createdAt: Date;
  /** Undefined when no valid manifest exists: an incomplete or failed attempt. */
  retentionClass?: RetentionClass;
}

export interface RetentionDecision {
  id: string;
  reason: string;
}

const HOUR = 3_600_000;

/** When a backup of this class expires: the retain-until date of its Object Lock. */
export function retainUntil(createdAt: Date, retentionClass: RetentionClass, p: Pick<RetentionPolicy, 'hourlyHours' | 'dailyDays'>): Date {
  const hours = retentionClass === 'hourly' ? p.hourlyHours : p.dailyDays * 24;
  return new Date(createdAt.getTime() + hours * HOUR);
}

export function decideRetention(backups: StoredBackup[], policy: RetentionPolicy, now: Date): { delete: RetentionDecision[]; keep: string[] } {
  const valid = backups.filter((b) => b.retentionClass);
  const newestValid = valid.reduce<StoredBackup | undefined>((a, b) => (!a || b.createdAt > a.createdAt ? b : a), undefined);
  const toDelete: RetentionDecision[] = [];
  const keep: string[] = [];
  for (const b of backups) {
    const ageHours = (now.getTime() - b.createdAt.getTime()) / HOUR;
    const reason = expiryReason(b, ageHours, policy);
    if (reason && b !== newestValid) toDelete.push({ id: b.id, reason });
    else keep.push(b.id);
  }
  return { delete: toDelete, keep };
}

function expiryReason(b: StoredBackup, ageHours: number, p: RetentionPolicy): string | undefined {
  const age = ageHours >= 48 ? `${(ageHours / 24).toFixed(1)} days` : `${ageHours.toFixed(1)} h`;
  if (!b.retentionClass) return ageHours > p.orphanGraceHours ? `no manifest (incomplete backup) and ${age} old > ${p.orphanGraceHours} h grace` : undefined;
  if (b.retentionClass === 'hourly' && ageHours > p.hourlyHours) return `hourly backup ${age} old > ${p.hourlyHours} h`;
  if (b.retentionClass === 'daily' && ageHours > p.dailyDays * 24) return `daily backup ${age} old > ${p.dailyDays} days`;
  return undefined;
}
