// Titan's configuration as its Git repository declares it: the manifest (titan-config.yaml at the
// repo root) and its checks, and the pure decisions of a re-sync (which keys to write or delete,
// what drifted). The environment file's configSync section is in config.ts.
import { z } from 'zod';
import { sha256Hex } from './sha256';
import { checkDocument, ConfigError, duration, parseYamlDocument } from './validation';

/** The commit a re-sync applies, and why newer ones were skipped. */
export interface ChosenConfig {
  commit: string;
  ref: string;
  subject: string;
  skipped: { commit: string; reason: string }[];
}

/** What Redis records as applied (a hash beside the keys). */
export interface AppliedConfig {
  commit?: string;
  at?: string;
  previous?: string;
  /**
   * The files Titan applied (target → the modules that use it): the only files a later commit that
   * no longer declares them may delete. Absent in records written before Titan kept it.
   */
  files?: AppliedFiles;
}

/** Targets Titan wrote, each with the modules restarted when it changes or goes. */
export type AppliedFiles = Record<string, string[]>;

/** The manifest's path in every config commit. */
export const MANIFEST = 'titan-config.yaml';

// ---- the manifest ---------------------------------------------------------------------------

/** A relative path without `..`: nothing the repo declares may reach outside the tree or the files root. */
const relativePath = z.string({ error: (i) => (i.input === undefined ? 'required' : 'must be a path') })
  .refine((p) => !p.startsWith('/'), 'must be a relative path, not an absolute one')
  .refine((p) => !p.split('/').includes('..'), 'must not contain ".." (it would leave the tree)')
  .transform((p) => p.split('/').filter((s) => s !== '' && s !== '.').join('/'))
  .refine((p) => p !== '', 'must name a file');

const manifestSchema = z.strictObject({
  redis: z.strictObject({
    /** Names relative to the key prefix; values are strings (quote numbers in YAML). */
    keys: z.record(z.string().min(1, 'key names must not be empty'), z.string({ error: 'must be a string (quote it in YAML)' })).default({}),
  }).prefault({}),
  files: z.array(z.strictObject({
    source: relativePath,
    target: relativePath,
    /** Compose services restarted when this file changes. */
    modules: z.array(z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9._-]*$/, 'must be a compose service name')).default([]),
  })).default([]),
  scripts: z.array(z.strictObject({
    run: relativePath,
    args: z.array(z.string()).default([]),
    timeout: duration.default('30s'),
  })).default([]),
});

/** The configuration one commit declares, paths normalised. */
export type RepoConfig = z.infer<typeof manifestSchema>;

export type Validation = { ok: true; config: RepoConfig } | { ok: false; problem: string };

/**
 * Whether a commit holds a valid configuration: the manifest parses and matches its schema, every
 * file and script it references is in the commit (JSON and YAML files must parse), and no two
 * files land on the same target. `readFile` returns a file of the commit, or undefined when absent;
 * it is called for the manifest, then once for each referenced path.
 */
export function validateConfigCommit(readFile: (path: string) => string | undefined): Validation {
  const problem = (field: string, message: string): Validation => ({ ok: false, problem: `${MANIFEST}: ${field}: ${message}` });
  const text = readFile(MANIFEST);
  if (text === undefined) return { ok: false, problem: `${MANIFEST}: not in the commit` };
  let result;
  try {
    result = checkDocument(manifestSchema, parseYamlDocument(text, MANIFEST));
  } catch (err) {
    if (err instanceof ConfigError) return { ok: false, problem: err.message };
    throw err;
  }
  if (!result.ok) return problem(result.field, result.message);
  const config = result.data;

  // Every referenced path is read before any is judged, so an asynchronous reader can fetch them in one round.
  const referenced = [...config.files.map((f) => f.source), ...config.scripts.map((s) => s.run)];
  const contents = new Map(referenced.map((p) => [p, readFile(p)]));
  for (const [i, f] of config.files.entries()) {
    const content = contents.get(f.source);
    if (content === undefined) return problem(`files.${i}.source`, `"${f.source}" is not in the commit`);
    const unparsable = parseProblem(f.source, content);
    if (unparsable) return problem(`files.${i}.source`, unparsable);
  }
  for (const [i, s] of config.scripts.entries()) {
    if (contents.get(s.run) === undefined) return problem(`scripts.${i}.run`, `"${s.run}" is not in the commit`);
  }
  const targets = new Map<string, number>();
  for (const [i, f] of config.files.entries()) {
    const same = targets.get(f.target);
    if (same !== undefined) return problem(`files.${i}.target`, `"${f.target}" is also the target of files.${same}`);
    targets.set(f.target, i);
  }
  for (const [i, f] of config.files.entries()) {
    const parent = config.files.findIndex((g) => f.target.startsWith(`${g.target}/`));
    if (parent >= 0) return problem(`files.${i}.target`, `"${f.target}" lies under "${config.files[parent]!.target}", the target of files.${parent}`);
  }
  return { ok: true, config };
}

/** JSON and YAML files must at least parse; other files are opaque text. */
function parseProblem(path: string, content: string): string | undefined {
  try {
    if (/\.json$/i.test(path)) JSON.parse(content);
    else if (/\.ya?ml$/i.test(path)) parseYamlDocument(content, path);
    return undefined;
  } catch (err) {
    return err instanceof ConfigError ? err.message : `${path}: not valid JSON: ${(err as Error).message.split('\n')[0]}`;
  }
}

// ---- signatures -----------------------------------------------------------------------------

/** A commit's signature, from git's %G? (good, bad, no signature, good but untrusted key, expired, revoked, cannot check). */
export type Signature = 'good' | 'bad' | 'unsigned' | 'untrusted' | 'expired' | 'revoked' | 'error';

export function signatureStatus(code: string): Signature {
  switch (code) {
    case 'G': return 'good';
    case 'B': return 'bad';
    case 'N': return 'unsigned';
    case 'U': return 'untrusted';
    case 'X': case 'Y': return 'expired';
    case 'R': return 'revoked';
    default: return 'error';
  }
}

/** Why a commit's signature disqualifies it, or undefined. Only G counts: a key merely present in the keyring is not an authorised signer. */
export function signatureProblem(signature: Signature, requireSigned: boolean): string | undefined {
  if (!requireSigned || signature === 'good') return undefined;
  return {
    bad: 'bad signature (the commit does not match it)',
    unsigned: 'unsigned (signatures required)',
    untrusted: 'signed by a key the keyring does not trust (signatures required)',
    expired: 'signed by an expired key, or the signature expired',
    revoked: 'signed by a revoked key',
    error: 'signature cannot be checked (is the signer\'s public key in the keyring?)',
  }[signature];
}

// ---- applying and verifying -----------------------------------------------------------------

/** What makes the live keys equal the desired ones (both relative to the key prefix): sorted, nothing for equal keys. */
export function keyPlan(current: Record<string, string>, desired: Record<string, string>): { set: Record<string, string>; del: string[] } {
  const set = Object.fromEntries(Object.keys(desired).sort().filter((k) => !Object.hasOwn(current, k) || current[k] !== desired[k]).map((k) => [k, desired[k]!]));
  const del = Object.keys(current).filter((k) => !Object.hasOwn(desired, k)).sort();
  return { set, del };
}

/** The SHA-256 each target must have: the digest of its source in the commit. */
export function fileDigests(config: RepoConfig, readFile: (path: string) => string | undefined): Record<string, string> {
  return Object.fromEntries(config.files.map((f) => {
    const content = readFile(f.source);
    if (content === undefined) throw new Error(`"${f.source}" is not in the commit`);
    return [f.target, sha256Hex(content)];
  }));
}

/** The files a commit declares, as the applied record keeps them. */
export const declaredFiles = (config: RepoConfig): AppliedFiles => Object.fromEntries(config.files.map((f) => [f.target, f.modules]));

/** Files Titan applied that `config` no longer declares: to delete, their modules to restart. Sorted by target. */
export function staleFiles(applied: AppliedFiles, config: RepoConfig): AppliedFiles {
  const declared = new Set(config.files.map((f) => f.target));
  return Object.fromEntries(Object.keys(applied).filter((t) => !declared.has(t)).sort().map((t) => [t, applied[t]!]));
}

export interface Drift {
  kind: 'key' | 'file';
  name: string;
  problem: 'missing' | 'differs' | 'unexpected';
}

/**
 * Where the live state differs from a commit's: keys by value (or by digest, if the caller passes
 * digests), files by SHA-256 (undefined = absent). `unexpected` = live but not desired (a key left in
 * the namespace, a file the commit no longer declares). Keys first, then files, each sorted by name.
 */
export function driftReport(state: {
  keys: { live: Record<string, string>; desired: Record<string, string> };
  files: { live: Record<string, string | undefined>; desired: Record<string, string> };
}): Drift[] {
  const compare = (kind: Drift['kind'], live: Record<string, string | undefined>, desired: Record<string, string>): Drift[] => {
    const names = [...new Set([...Object.keys(live), ...Object.keys(desired)])].sort();
    return names.flatMap((n): Drift[] => {
      const have = Object.hasOwn(live, n) ? live[n] : undefined;
      if (!Object.hasOwn(desired, n)) return have === undefined ? [] : [{ kind, name: n, problem: 'unexpected' }];
      if (have === undefined) return [{ kind, name: n, problem: 'missing' }];
      return have === desired[n] ? [] : [{ kind, name: n, problem: 'differs' }];
    });
  };
  return [...compare('key', state.keys.live, state.keys.desired), ...compare('file', state.files.live, state.files.desired)];
}
