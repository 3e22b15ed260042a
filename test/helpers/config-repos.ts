// Real configuration repositories for tests: a working repository whose commits are signed (or not)
// with a throwaway GnuPG key, at fixed dates so their order never depends on the clock.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { simpleGit, type SimpleGit } from 'simple-git';
import { stringify } from 'yaml';
import { MANIFEST } from '../../src/lib/config-source';

/** A GnuPG home directory; `kill` stops the agent gpg started in it. */
export class Keyring {
  constructor(readonly home: string) {
    mkdirSync(home, { recursive: true, mode: 0o700 });
  }

  gpg(args: string[], input?: Buffer): Buffer {
    return execFileSync('gpg', ['--batch', '--pinentry-mode', 'loopback', ...args], { env: { ...process.env, GNUPGHOME: this.home }, input, stdio: ['pipe', 'pipe', 'pipe'] });
  }

  /** A new signing key without a passphrase; its fingerprint. Own keys get ultimate trust, so their signatures are G. */
  generateKey(): string {
    this.gpg(['--passphrase', '', '--quick-gen-key', 'Titan Test <t@example.invalid>', 'ed25519', 'sign', 'never']);
    const colons = this.gpg(['--list-secret-keys', '--with-colons']).toString();
    return /^fpr:+([0-9A-F]{40}):/m.exec(colons)![1]!;
  }

  /** The public key alone, without any trust: signatures by it are U here. */
  importPublicKey(from: Keyring, fingerprint: string): void {
    this.gpg(['--import'], from.gpg(['--export', fingerprint]));
  }

  kill(): void {
    execFileSync('gpgconf', ['--kill', 'gpg-agent'], { env: { ...process.env, GNUPGHOME: this.home }, stdio: 'ignore' });
  }
}

/** One clock for every author: commits and tags get increasing dates, one minute apart, from 2026-01-01T00:01Z. */
let minute = 0;

/** A working repository that commits configurations. Its git ignores the user's configuration (own HOME). */
export class ConfigAuthor {

  constructor(readonly dir: string, private readonly signer: { keyring: Keyring; fingerprint: string }, private readonly home: string) {}

  static async init(dir: string, signer: { keyring: Keyring; fingerprint: string }, home: string): Promise<ConfigAuthor> {
    mkdirSync(dir, { recursive: true });
    mkdirSync(home, { recursive: true });
    const author = new ConfigAuthor(dir, signer, home);
    const git = author.git();
    await git.init(['--initial-branch=main']);
    await git.addConfig('user.name', 'Titan Test').addConfig('user.email', 't@example.invalid').addConfig('user.signingkey', signer.fingerprint);
    return author;
  }

  git(date?: string): SimpleGit {
    const env: Record<string, string> = { PATH: process.env.PATH!, HOME: this.home, GNUPGHOME: this.signer.keyring.home };
    if (date) Object.assign(env, { GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date });
    return simpleGit({ baseDir: this.dir }).env(env);
  }

  nextDate(): string {
    return new Date(Date.UTC(2026, 0, 1, 0, ++minute)).toISOString();
  }

  /**
   * Commits the manifest (an object, or raw text) and files (null deletes; a name ending in .sh is
   * made executable); the commit id.
   */
  async commit(message: string, manifest: unknown, files: Record<string, string | null>, opts: { sign: boolean }): Promise<string> {
    const all = { ...files, [MANIFEST]: typeof manifest === 'string' ? manifest : stringify(manifest) };
    for (const [name, content] of Object.entries(all)) {
      const file = path.join(this.dir, name);
      if (content === null) {
        rmSync(file, { force: true });
        continue;
      }
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, content);
      if (name.endsWith('.sh')) chmodSync(file, 0o755);
    }
    const git = this.git(this.nextDate());
    await git.raw(['add', '-A']);
    await git.raw(['commit', '--quiet', '-m', message, ...(opts.sign ? ['-S'] : ['--no-gpg-sign'])]);
    return (await git.revparse(['HEAD'])).trim();
  }

  async tag(name: string, commit: string, opts: { annotated: boolean }): Promise<void> {
    await this.git(this.nextDate()).raw(['tag', ...(opts.annotated ? ['-a', '-m', name] : []), name, commit]);
  }

  /** A copy of `commit` whose message is changed but whose signature is kept: git reports it as a bad signature. */
  async tamper(commit: string, branch: string): Promise<string> {
    const object = (await this.git().raw(['cat-file', 'commit', commit])).replace(/\n\n(.*)\n$/, '\n\n$1 (tampered)\n');
    const id = execFileSync('git', ['hash-object', '-t', 'commit', '-w', '--stdin'], { cwd: this.dir, input: object }).toString().trim();
    await this.git().raw(['update-ref', `refs/heads/${branch}`, id]);
    return id;
  }
}
