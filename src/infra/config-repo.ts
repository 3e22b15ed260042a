// The configuration repository, read through a bare mirror in a cache directory: the candidate
// commits newest first with their signature status, a commit's files, and its tree (to run the
// scripts it declares). Nothing here writes to the repository itself.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { simpleGit, type SimpleGit } from 'simple-git';
import type { ConfigPolicy } from '../lib/config';
import { type RepoConfig, type Signature, signatureProblem, signatureStatus, type Validation, validateConfigCommit } from '../lib/config-source';

export interface ConfigCandidate {
  commit: string;
  /** The branch (refs/heads/…) the commit was found on, or its tag (refs/tags/…). */
  ref: string;
  /** Committer date, ISO 8601. */
  date: string;
  signature: Signature;
  subject: string;
}

export class ConfigRepoError extends Error {
  override name = 'ConfigRepoError';
}

/** simple-git refuses to run with these set; a worker has no terminal for an editor or a pager anyway. */
const TERMINAL_ONLY = new Set(['editor', 'pager', 'git_editor', 'git_pager', 'git_sequence_editor']);
/** A git that prints nothing for this long is stuck (e.g. a host that drops packets). */
const GIT_SILENCE_MS = 120_000;
const RECORD = '\x1e';
const FIELD = '\x1f';

export class ConfigRepo {
  private readonly env: Record<string, string>;

  /** `url`: a URL git understands or an absolute path. `gnupgHome`: the keyring signatures are checked against (default the worker's). */
  constructor(readonly url: string, readonly cacheDir: string, opts: { gnupgHome?: string } = {}) {
    if (url.startsWith('-')) throw new ConfigRepoError(`config repository "${url}" must be a URL or a path`);
    this.env = {
      ...Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined && !TERMINAL_ONLY.has(e[0].toLowerCase()))),
      // Fail instead of asking for credentials on a terminal no one watches.
      GIT_TERMINAL_PROMPT: '0',
      ...(opts.gnupgHome ? { GNUPGHOME: opts.gnupgHome } : {}),
    };
  }

  /** Clones the repository once (a bare mirror), then fetches; branches and tags follow the remote's, deletions included. */
  async sync(): Promise<void> {
    if (this.synced()) {
      const git = this.git();
      if ((await git.raw(['remote', 'get-url', 'origin'])).trim() !== this.url) await git.raw(['remote', 'set-url', 'origin', this.url]);
      await this.remote('fetch', () => git.raw(['fetch', '--prune', '--quiet', 'origin']));
      return;
    }
    // Cloned beside the cache and renamed, so a crash mid-clone never leaves a cache that looks complete.
    const parent = path.dirname(this.cacheDir);
    await mkdir(parent, { recursive: true });
    const staging = `${this.cacheDir}.clone-${process.pid}-${Date.now()}`;
    try {
      await this.remote('clone', () => this.git(parent).raw(['clone', '--mirror', '--quiet', '--', this.url, staging]));
      await rename(staging, this.cacheDir).catch((err) => {
        if (!this.synced()) throw err; // else a concurrent sync cloned it first
      });
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }

  /**
   * The newest commits first: the branch's first-parent history (the states the branch itself
   * had), or with `tagPattern` the matching tags' commits, newest tag first. At most `depth`.
   */
  async candidates(opts: { branch?: string; tagPattern?: string; depth: number }): Promise<ConfigCandidate[]> {
    if (opts.tagPattern !== undefined) {
      // Newest tag first (the last --sort is the primary key); tags made in the same second by version.
      const out = await this.git().raw(['for-each-ref', '--sort=-v:refname', '--sort=-creatordate',
        '--format=%(refname)%1f%(objecttype)%1f%(objectname)%1f%(*objecttype)%1f%(*objectname)', `refs/tags/${opts.tagPattern}`]);
      const tagOf = new Map<string, string>();
      for (const line of out.split('\n').filter(Boolean)) {
        const [ref, type, id, peeledType, peeled] = line.split(FIELD);
        const commit = type === 'commit' ? id : peeledType === 'commit' ? peeled : undefined;
        if (commit && !tagOf.has(commit)) tagOf.set(commit, ref!);
        if (tagOf.size === opts.depth) break;
      }
      if (!tagOf.size) return [];
      return (await this.log(['--no-walk=unsorted', ...tagOf.keys()])).map((c) => ({ ...c, ref: tagOf.get(c.commit)! }));
    }
    const ref = `refs/heads/${opts.branch ?? 'main'}`;
    const exists = (await this.git().raw(['for-each-ref', '--format=%(refname)', ref])).split('\n').includes(ref);
    if (!exists) throw new ConfigRepoError(`config repository ${this.url} has no branch "${opts.branch ?? 'main'}"`);
    return (await this.log(['--first-parent', `--max-count=${opts.depth}`, ref])).map((c) => ({ ...c, ref }));
  }

  /** A file of the commit as UTF-8 text; undefined when the path is absent, a directory, a symlink or a submodule. */
  async readFile(commit: string, file: string): Promise<string | undefined> {
    assertCommit(commit);
    const listed = await this.git().raw(['ls-tree', '-z', commit, '--', file]);
    // "<mode> <type> <object>\t<path>\0"; a path with a trailing / would list the directory's entries instead.
    const m = /^(\d+) (\w+) ([0-9a-f]+)\t([^\0]*)\0/.exec(listed);
    if (!m || m[4] !== file || m[2] !== 'blob' || m[1] === '120000') return undefined;
    return this.git().raw(['cat-file', 'blob', m[3]!]);
  }

  /** The commit's tree, extracted into `dir` (replaced if present), modes kept: where its scripts run. */
  async exportTree(commit: string, dir: string): Promise<void> {
    assertCommit(commit);
    const staging = `${dir}.export-${process.pid}-${Date.now()}`;
    await mkdir(staging, { recursive: true });
    try {
      await pipeline(['git', '--git-dir', this.cacheDir, 'archive', '--format=tar', commit], ['tar', '-x', '--no-same-owner', '-C', staging], this.env);
      await rm(dir, { recursive: true, force: true });
      await rename(staging, dir);
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }

  private synced(): boolean {
    return existsSync(path.join(this.cacheDir, 'HEAD'));
  }

  private git(baseDir?: string): SimpleGit {
    if (baseDir === undefined && !this.synced()) throw new ConfigRepoError(`config repository ${this.url}: not synced into ${this.cacheDir} yet`);
    return simpleGit({ baseDir: baseDir ?? this.cacheDir, timeout: { block: GIT_SILENCE_MS } }).env(this.env);
  }

  private async log(args: string[]): Promise<Omit<ConfigCandidate, 'ref'>[]> {
    // --no-show-signature: a user's log.showSignature would print gpg's report into the output.
    const out = await this.git().raw(['log', '--no-show-signature', `--format=%H${FIELD}%cI${FIELD}%G?${FIELD}%s${RECORD}`, ...args, '--']);
    return out.split(RECORD).map((r) => r.trim()).filter(Boolean).map((r) => {
      const [commit, date, code, subject] = r.split(FIELD);
      return { commit: commit!, date: date!, signature: signatureStatus(code!), subject: subject ?? '' };
    });
  }

  private async remote<T>(what: 'clone' | 'fetch', run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      throw new ConfigRepoError(`config repository ${this.url}: cannot ${what}: ${gitProblem(err)}`);
    }
  }
}

/**
 * The newest candidate that passes the policy: a required signature first, then the commit's
 * content. Skipped candidates come with their reason, newest first.
 */
export async function latestValidConfig(repo: ConfigRepo, policy: ConfigPolicy): Promise<{
  chosen?: ConfigCandidate & { config: RepoConfig };
  skipped: { commit: string; reason: string }[];
}> {
  const skipped: { commit: string; reason: string }[] = [];
  for (const candidate of await repo.candidates(policy)) {
    const unsigned = signatureProblem(candidate.signature, policy.requireSigned);
    if (unsigned) {
      skipped.push({ commit: candidate.commit, reason: unsigned });
      continue;
    }
    const result = await validateCommit(repo, candidate.commit);
    if (result.ok) return { chosen: { ...candidate, config: result.config }, skipped };
    skipped.push({ commit: candidate.commit, reason: result.problem });
  }
  return { skipped };
}

/**
 * validateConfigCommit on one commit. Its reader is synchronous, so it runs again once the files it
 * asked for are fetched: three runs at most (the manifest, then everything the manifest references).
 */
export async function validateCommit(repo: ConfigRepo, commit: string): Promise<Validation> {
  const files = new Map<string, string | undefined>();
  for (;;) {
    const wanted = new Set<string>();
    const result = validateConfigCommit((p) => {
      if (files.has(p)) return files.get(p);
      wanted.add(p);
      return undefined;
    });
    if (!wanted.size) return result;
    await Promise.all([...wanted].map(async (p) => files.set(p, await repo.readFile(commit, p))));
  }
}

function assertCommit(commit: string): void {
  if (!/^(?:[0-9a-f]{40}|[0-9a-f]{64})$/.test(commit)) throw new ConfigRepoError(`"${commit}" is not a full commit id`);
}

/** git's own reason, one line: the first thing it said that is not a progress note or a warning (ssh's reason precedes git's "fatal"). */
function gitProblem(err: unknown): string {
  const lines = String((err as Error).message ?? err).split('\n').map((l) => l.trim()).filter((l) => l && !/^(Cloning into|warning:)/.test(l));
  return lines[0]?.replace(/^(fatal|error): /, '') ?? 'git failed';
}

/** `a | b`, failing with the first stderr line of whichever side exited non-zero. */
function pipeline(a: string[], b: string[], env: Record<string, string>): Promise<void> {
  const run = (argv: string[]) => spawn(argv[0]!, argv.slice(1), { env, stdio: ['pipe', 'pipe', 'pipe'] });
  const [left, right] = [run(a), run(b)];
  left.stdout.pipe(right.stdin);
  right.stdin.on('error', () => undefined); // EPIPE when the reader died: its exit status tells why
  const done = (child: ReturnType<typeof run>, argv: string[]) => new Promise<void>((resolve, reject) => {
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${argv.slice(0, 4).join(' ')}: ${stderr.trim().split('\n')[0] || `exit ${code}`}`))));
  });
  left.stdin.end();
  return Promise.all([done(left, a), done(right, b)]).then(() => undefined);
}
