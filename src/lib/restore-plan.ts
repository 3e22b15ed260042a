// Pure decisions of a Redis restore: which backups to try in which order, whether the target
// Redis can read a snapshot, and whether the restored key counts match the snapshot's.
import type { LocationName } from './config';
import type { DbCounts } from './manifest';

/** One backup as one location lists it; `problem` is set when the cheap checks already fail. */
export interface ListedBackup {
  id: string;
  location: LocationName;
  createdAt: string;
  problem?: string;
}

export interface RestoreCandidate {
  id: string;
  createdAt: string;
  /** Locations holding a copy that passed the cheap checks, primary first. */
  locations: LocationName[];
}

export interface Rejection {
  id: string;
  location: LocationName;
  problem: string;
}

/** A backup downloaded into the target's staging directory and proven valid there. */
export interface StagedBackup {
  backupId: string;
  location: LocationName;
  bytes: number;
  sha256: string;
  rdbVersion: number;
  createdAt: string;
  /** Keys per database counted in the RDB; absent when a module type stopped the parse. */
  keyCounts?: Record<string, { keys: number; expires: number }>;
  /** Bytes that were already on disk from an interrupted attempt. */
  resumedAt: number;
}

export interface CandidateSelection {
  backupId?: string;
  /** Only backups taken strictly before this time (ISO 8601). */
  before?: string;
}

/** Candidates newest first, and the copies the cheap checks already rejected. */
export function orderCandidates(listed: ListedBackup[], sel: CandidateSelection): { candidates: RestoreCandidate[]; rejected: Rejection[] } {
  const before = sel.before === undefined ? undefined : Date.parse(sel.before);
  const chosen = listed.filter((b) => (sel.backupId === undefined || b.id === sel.backupId) && (before === undefined || Date.parse(b.createdAt) < before));
  const rank = (l: LocationName) => (l === 'primary' ? 0 : 1);
  const byId = new Map<string, RestoreCandidate>();
  const rejected: Rejection[] = [];
  for (const b of [...chosen].sort((x, y) => rank(x.location) - rank(y.location))) {
    if (b.problem) {
      rejected.push({ id: b.id, location: b.location, problem: b.problem });
      continue;
    }
    const c = byId.get(b.id) ?? { id: b.id, createdAt: b.createdAt, locations: [] };
    c.locations.push(b.location);
    byId.set(b.id, c);
  }
  const newestFirst = (a: { id: string }, b: { id: string }) => b.id.localeCompare(a.id);
  return { candidates: [...byId.values()].sort(newestFirst), rejected: rejected.sort(newestFirst) };
}

/** Newest RDB format each Redis release reads (rdb.h RDB_VERSION). */
export function maxRdbVersion(redisVersion: string): number | undefined {
  const m = /^(\d+)\.(\d+)/.exec(redisVersion);
  if (!m) return undefined;
  const v = Number(m[1]) * 100 + Number(m[2]);
  if (v >= 704) return 12;
  if (v >= 702) return 11;
  if (v >= 700) return 10;
  if (v >= 500) return 9;
  if (v >= 400) return 8;
  if (v >= 302) return 7;
  return 6;
}

/**
 * When the keys with a TTL expire, per database: how many had already expired when the snapshot
 * was staged, how many expire in each second of the following window, and how many later. Enough
 * to explain a count difference at any verification time inside the window, in bounded memory.
 */
export interface ExpiryHistogram {
  stagedAtMs: number;
  windowMs: number;
  dbs: Record<string, { before: number; bySecond: Record<string, number>; later: number }>;
}

export function newExpiryHistogram(stagedAtMs: number, windowMs = 48 * 3_600_000): ExpiryHistogram {
  return { stagedAtMs, windowMs, dbs: {} };
}

export function recordExpiry(h: ExpiryHistogram, db: number, atMs: number): void {
  const d = (h.dbs[db] ??= { before: 0, bySecond: {}, later: 0 });
  if (atMs <= h.stagedAtMs) d.before++;
  else if (atMs > h.stagedAtMs + h.windowMs) d.later++;
  else {
    const s = Math.floor(atMs / 1000);
    d.bySecond[s] = (d.bySecond[s] ?? 0) + 1;
  }
}

/** How many keys of a database can have expired by `nowMs`, at most (whole seconds round up). */
export function maxExpiredBy(h: ExpiryHistogram, db: string, nowMs: number): number {
  const d = h.dbs[db];
  if (!d) return 0;
  if (nowMs > h.stagedAtMs + h.windowMs) return d.before + Object.values(d.bySecond).reduce((a, b) => a + b, 0) + d.later;
  const now = Math.floor(nowMs / 1000);
  let n = d.before;
  for (const [s, c] of Object.entries(d.bySecond)) if (Number(s) <= now) n += c;
  return n;
}

type KeyCounts = NonNullable<DbCounts>;

export interface CountCheck {
  /** Per database: what the snapshot held and what the restored Redis holds. */
  dbs: Record<string, { snapshot: { keys: number; expires: number }; restored: { keys: number; expires: number }; expiredSince: number }>;
  problems: string[];
}

/**
 * Keys without a TTL never expire, so their count must match exactly; keys with a TTL may only
 * be fewer, and by no more than the snapshot's keys that could have expired by now.
 */
export function checkKeyCounts(snapshot: KeyCounts, restored: KeyCounts, expiries: ExpiryHistogram, nowMs: number): CountCheck {
  const out: CountCheck = { dbs: {}, problems: [] };
  const zero = { keys: 0, expires: 0 };
  const dbs = [...new Set([...Object.keys(snapshot), ...Object.keys(restored)])].sort((a, b) => Number(a) - Number(b));
  for (const db of dbs) {
    const s = snapshot[db] ?? zero;
    const r = restored[db] ?? zero;
    const expiredSince = s.expires - r.expires;
    out.dbs[db] = { snapshot: s, restored: r, expiredSince: Math.max(0, expiredSince) };
    const persistent = { s: s.keys - s.expires, r: r.keys - r.expires };
    if (persistent.s !== persistent.r) out.problems.push(`db${db}: ${persistent.r} keys without a TTL, the snapshot has ${persistent.s}`);
    const mayHaveExpired = maxExpiredBy(expiries, db, nowMs);
    if (expiredSince < 0) out.problems.push(`db${db}: ${r.expires} keys with a TTL, more than the snapshot's ${s.expires}`);
    else if (expiredSince > mayHaveExpired) out.problems.push(`db${db}: ${expiredSince} keys with a TTL missing, but only ${mayHaveExpired} could have expired since the snapshot`);
  }
  return out;
}
