// The running side of Titan's configuration: which commit is the latest valid one, what Redis
// records as applied, and the keys and files as they are now. Shared by the configuration
// activities and `titan config status|rollback`.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import type Redis from 'ioredis';
import type { ConfigPolicy } from '../lib/config';
import { type AppliedConfig, type AppliedFiles, type ChosenConfig, declaredFiles, type Drift, driftReport, type RepoConfig, staleFiles } from '../lib/config-source';
import { ErrorType } from '../lib/errors';
import { sha256Hex } from '../lib/sha256';
import { type ConfigRepo, ConfigRepoError, latestValidConfig, validateCommit } from './config-repo';
import { withRedis } from './redis-control';
import type { RedisEndpoint } from './redis-sync';

/** Where the applied commit is recorded; never under a key prefix (a re-sync would delete it). */
export const APPLIED_KEY = 'titan-config-applied';

/** Titan's configuration repository and where its keys and files go, as deps.ts builds it. */
export interface ConfigSyncContext {
  repo: ConfigRepo;
  policy: ConfigPolicy;
  /** The Redis instance whose key space receives the keys. */
  redis: RedisEndpoint;
  keyPrefix: string;
  filesRoot: string;
}

const fail = (type: ErrorType) => (message: string) => ApplicationFailure.nonRetryable(message, type);

/** The manifest of `commit`; refused when the commit is not a valid configuration. */
export async function configAt(c: ConfigSyncContext, commit: string): Promise<RepoConfig> {
  const v = await validateCommit(c.repo, commit);
  if (!v.ok) throw fail(ErrorType.NoValidConfig)(`commit ${commit} is not a valid configuration: ${v.problem}`);
  return v.config;
}

export const withConfigRedis = <T>(c: ConfigSyncContext, fn: (r: Redis) => Promise<T>) => withRedis(c.redis, fn);

export async function appliedConfig(r: Redis): Promise<AppliedConfig> {
  const { files, ...rest } = await r.hgetall(APPLIED_KEY);
  return { ...rest, ...(files ? { files: JSON.parse(files) as AppliedFiles } : {}) };
}

/** Records the files Titan applied (the hash's `files` field, JSON). */
export const recordAppliedFiles = (r: Redis, files: AppliedFiles) => r.hset(APPLIED_KEY, 'files', JSON.stringify(files));

/**
 * The files Titan applied: the record, or for a record written before Titan kept one, the files
 * the applied and the previous commit declare (a file the applied one dropped was left on disk
 * then); a commit gone from the repository counts for nothing.
 */
export async function appliedFiles(c: ConfigSyncContext, applied: AppliedConfig): Promise<AppliedFiles> {
  if (applied.files) return applied.files;
  const declared = (commit?: string) => (commit ? configAt(c, commit).then(declaredFiles, () => ({})) : {});
  return { ...await declared(applied.previous), ...await declared(applied.commit) };
}

/** The namespace's keys, names relative to the prefix. */
export async function liveKeys(r: Redis, prefix: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for await (const batch of r.scanStream({ match: `${prefix}*`, count: 1000 })) {
    const names = (batch as string[]).filter((k) => k !== APPLIED_KEY);
    const values = names.length ? await r.mget(names) : [];
    names.forEach((k, i) => { if (values[i] !== null) out[k.slice(prefix.length)] = values[i]!; });
  }
  return out;
}

export function liveFile(c: ConfigSyncContext, target: string): string | undefined {
  try {
    return readFileSync(path.join(c.filesRoot, target), 'utf8');
  } catch {
    return undefined;
  }
}

/** Each declared file's content at `commit`, by target. */
export async function fileSources(c: ConfigSyncContext, commit: string, config: RepoConfig): Promise<Record<string, string>> {
  return Object.fromEntries(await Promise.all(config.files.map(async (f) => [f.target, (await c.repo.readFile(commit, f.source))!] as const)));
}

/** The latest valid commit (or `to`, which must be valid and among the candidates), with the reasons others were skipped. */
export async function chooseConfig(c: ConfigSyncContext, to?: string): Promise<ChosenConfig> {
  try {
    await c.repo.sync();
  } catch (err) {
    if (err instanceof ConfigRepoError) throw fail(ErrorType.ConfigRepoUnreachable)(err.message);
    throw err;
  }
  if (to) {
    const candidate = (await c.repo.candidates(c.policy)).find((x) => x.commit === to);
    if (!candidate) throw fail(ErrorType.NoValidConfig)(`commit ${to} is not among the ${c.policy.depth} newest candidates of ${c.repo.url} (give the full commit id)`);
    await configAt(c, candidate.commit);
    return { commit: candidate.commit, ref: candidate.ref, subject: candidate.subject, skipped: [] };
  }
  const { chosen, skipped } = await latestValidConfig(c.repo, c.policy);
  if (!chosen) throw fail(ErrorType.NoValidConfig)(`no valid configuration in ${c.repo.url}: ${skipped.map((s) => `${s.commit.slice(0, 12)}: ${s.reason}`).join('; ') || 'no commits'}`);
  return { commit: chosen.commit, ref: chosen.ref, subject: chosen.subject, skipped };
}

/**
 * Keys and files that differ from the commit, and what Redis records as applied. A file Titan
 * applied that the commit no longer declares is drift while it is on disk; files Titan never wrote
 * are not looked at.
 */
export async function checkConfig(c: ConfigSyncContext, commit: string): Promise<{ drift: Drift[]; applied: AppliedConfig }> {
  const config = await configAt(c, commit);
  const content = await fileSources(c, commit, config);
  const digest = (t: string) => {
    const live = liveFile(c, t);
    return live === undefined ? undefined : sha256Hex(live);
  };
  return withConfigRedis(c, async (r) => {
    const applied = await appliedConfig(r);
    const stale = Object.keys(staleFiles(await appliedFiles(c, applied), config));
    return {
      drift: driftReport({
        keys: { live: await liveKeys(r, c.keyPrefix), desired: config.redis.keys },
        files: {
          live: Object.fromEntries([...config.files.map((f) => f.target), ...stale].map((t) => [t, digest(t)])),
          desired: Object.fromEntries(Object.entries(content).map(([t, text]) => [t, sha256Hex(text)])),
        },
      }),
      applied,
    };
  });
}
