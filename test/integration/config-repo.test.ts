// The configuration repository through real git and gpg: no stack needed. Commits are signed with
// a throwaway key; one keyring trusts it (G), one only holds it (U), one lacks it (E).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigRepo, ConfigRepoError, latestValidConfig } from '../../src/infra/config-repo';
import type { ConfigPolicy } from '../../src/lib/config';
import { ConfigAuthor, Keyring } from '../helpers/config-repos';

const manifest = (mode: unknown) => ({
  redis: { keys: { mode, 'limits.rps': '100' } },
  files: [{ source: 'conf/app.json', target: 'api/app.json', modules: ['api'] }],
  scripts: [{ run: 'scripts/apply.sh', args: ['--mode', String(mode)], timeout: '5s' }],
});
const script = '#!/bin/sh\necho "applied $*"\n';
/** Exact bytes matter: no final newline, non-ASCII, CRLF and trailing blank lines must come back as written. */
const appJson = (v: string) => `{"version": "${v}", "name": "café ✓"}`;
const rawText = 'a\r\nb\n\n\n';

describe('config repository (real git and gpg)', function () {
  let root: string;
  let signer: Keyring;
  let untrusting: Keyring;
  let empty: Keyring;
  let author: ConfigAuthor;
  let fingerprint: string;
  /** c1..c4 on main, oldest first: v1 signed, v2 signed, broken (signed, invalid), v4 unsigned. */
  let c: string[];
  let tampered: string;
  let traversal: string;

  const dir = (name: string) => path.join(root, name);
  const repoFor = (keyring: Keyring, cache = dir(`cache-${path.basename(keyring.home)}`), url = author.dir) => new ConfigRepo(url, cache, { gnupgHome: keyring.home });
  const policy = (p: Partial<ConfigPolicy>): ConfigPolicy => ({ branch: 'main', depth: 50, requireSigned: false, ...p });

  before(async function () {
    root = mkdtempSync(path.join(os.tmpdir(), 'titan-config-repo-'));
    signer = new Keyring(dir('gnupg-signer'));
    untrusting = new Keyring(dir('gnupg-untrusting'));
    empty = new Keyring(dir('gnupg-empty'));
    fingerprint = signer.generateKey();
    untrusting.importPublicKey(signer, fingerprint);

    author = await ConfigAuthor.init(dir('origin'), { keyring: signer, fingerprint }, dir('home'));
    const files = { 'conf/app.json': appJson('1'), 'conf/raw.txt': rawText, 'scripts/apply.sh': script };
    symlinkSync('conf/app.json', path.join(author.dir, 'link.json')); // a symlink is not a config file: its target path would be read as content
    c = [];
    c.push(await author.commit('v1', manifest('v1'), files, { sign: true }));
    await author.tag('config-v1', c[0]!, { annotated: true });
    c.push(await author.commit('v2', manifest('v2'), { 'conf/app.json': appJson('2') }, { sign: true }));
    await author.tag('config-v2', c[1]!, { annotated: false });
    c.push(await author.commit('broken', manifest(3), {}, { sign: true }));
    await author.tag('config-v3', c[2]!, { annotated: true });
    c.push(await author.commit('v4', manifest('v4'), {}, { sign: false }));
    await author.tag('other-4', c[3]!, { annotated: false });

    await author.git().raw(['branch', 'traversal', c[1]!]);
    await author.git().raw(['checkout', '--quiet', 'traversal']);
    traversal = await author.commit('escape', { files: [{ source: 'conf/app.json', target: '../../outside.json' }] }, {}, { sign: true });
    await author.git().raw(['checkout', '--quiet', 'main']);
    tampered = await author.tamper(c[1]!, 'tampered');

    // "merged": its own commit, then a side branch merged in; the side commit never was the branch's state.
    await author.git().raw(['checkout', '--quiet', '-b', 'side', c[1]!]);
    await author.commit('side', manifest('side'), {}, { sign: true });
    await author.git().raw(['checkout', '--quiet', '-b', 'merged', c[1]!]);
    await author.commit('own', manifest('v2'), { 'conf/app.json': appJson('own') }, { sign: true });
    await author.git(author.nextDate()).raw(['merge', '--quiet', '--no-ff', '--no-gpg-sign', '-m', 'merge side', 'side']);
    await author.git().raw(['checkout', '--quiet', 'main']);
  });

  after(function () {
    for (const k of [signer, untrusting, empty]) k?.kill();
    rmSync(root, { recursive: true, force: true });
  });

  it('lists the branch history newest first, each commit with its signature: G for the signed ones', async function () {
    const repo = repoFor(signer);
    await repo.sync();
    const list = await repo.candidates({ branch: 'main', depth: 50 });
    assert.deepEqual(list.map((x) => [x.commit, x.ref, x.subject, x.signature]), [
      [c[3], 'refs/heads/main', 'v4', 'unsigned'],
      [c[2], 'refs/heads/main', 'broken', 'good'],
      [c[1], 'refs/heads/main', 'v2', 'good'],
      [c[0], 'refs/heads/main', 'v1', 'good'],
    ]);
    // Two minutes apart: each tag took a minute of the authors' clock too (shared by every test file, so relative).
    const first = Date.parse(list.at(-1)!.date);
    assert.deepEqual(list.map((x) => x.date), [6, 4, 2, 0].map((m) => new Date(first + m * 60_000).toISOString().replace('.000Z', '+00:00')));
    // The same as git itself says in the origin, with the same keyring.
    const raw = execFileSync('git', ['log', '--format=%G?', 'main'], { cwd: author.dir, env: { ...process.env, GNUPGHOME: signer.home } }).toString();
    assert.equal(raw, 'N\nG\nG\nG\n');
  });

  it("follows the branch's first parents only: a merged-in commit never was the branch's configuration", async function () {
    const repo = repoFor(signer);
    await repo.sync();
    assert.deepEqual((await repo.candidates({ branch: 'merged', depth: 50 })).map((x) => x.subject), ['merge side', 'own', 'v2', 'v1']);
  });

  it("reads git's output right whatever the user's git configuration prints (log.showSignature)", async function () {
    const cache = dir('cache-show-signature');
    const repo = repoFor(signer, cache);
    await repo.sync();
    execFileSync('git', ['--git-dir', cache, 'config', 'log.showSignature', 'true']);
    assert.deepEqual((await repo.candidates({ branch: 'main', depth: 50 })).map((x) => [x.commit, x.signature]), [[c[3], 'unsigned'], [c[2], 'good'], [c[1], 'good'], [c[0], 'good']]);
  });

  it("runs in a worker whose environment names an editor or a pager (simple-git refuses to pass those on)", async function () {
    const saved = { EDITOR: process.env.EDITOR, PAGER: process.env.PAGER };
    Object.assign(process.env, { EDITOR: 'vi', PAGER: 'less' });
    let repo: ConfigRepo;
    try {
      repo = repoFor(signer, dir('cache-editor'));
    } finally {
      for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
    }
    await repo.sync();
    assert.equal((await repo.candidates({ branch: 'main', depth: 1 }))[0]?.commit, c[3]);
  });

  it('without signatures required, the newest valid commit is chosen, unsigned or not', async function () {
    const repo = repoFor(signer);
    await repo.sync();
    const result = await latestValidConfig(repo, policy({}));
    assert.equal(result.chosen?.commit, c[3]);
    assert.equal(result.chosen?.config.redis.keys.mode, 'v4');
    assert.deepEqual(result.skipped, []);
  });

  it('with signatures required, the unsigned and the invalid commits are skipped, each with its reason', async function () {
    const repo = repoFor(signer);
    await repo.sync();
    const result = await latestValidConfig(repo, policy({ requireSigned: true }));
    assert.deepEqual(result.skipped, [
      { commit: c[3], reason: 'unsigned (signatures required)' },
      { commit: c[2], reason: 'titan-config.yaml: redis.keys.mode: must be a string (quote it in YAML)' },
    ]);
    assert.equal(result.chosen?.commit, c[1]);
    assert.equal(result.chosen?.signature, 'good');
    assert.equal(result.chosen?.subject, 'v2');
    assert.deepEqual(result.chosen?.config, {
      redis: { keys: { mode: 'v2', 'limits.rps': '100' } },
      files: [{ source: 'conf/app.json', target: 'api/app.json', modules: ['api'] }],
      scripts: [{ run: 'scripts/apply.sh', args: ['--mode', 'v2'], timeout: '5s' }],
    });
  });

  it('a good signature from a key the keyring holds but does not trust (U) does not count; a missing key (E) neither', async function () {
    const holder = repoFor(untrusting);
    await holder.sync();
    assert.deepEqual((await holder.candidates({ branch: 'main', depth: 50 })).map((x) => x.signature), ['unsigned', 'untrusted', 'untrusted', 'untrusted']);
    const required = await latestValidConfig(holder, policy({ requireSigned: true }));
    assert.equal(required.chosen, undefined);
    assert.deepEqual(required.skipped.map((s) => s.reason), ['unsigned (signatures required)', ...Array(3).fill('signed by a key the keyring does not trust (signatures required)')]);
    assert.equal((await latestValidConfig(holder, policy({}))).chosen?.commit, c[3], 'trust only matters when signatures are required');

    const stranger = repoFor(empty);
    await stranger.sync();
    assert.deepEqual((await stranger.candidates({ branch: 'main', depth: 50 })).map((x) => x.signature), ['unsigned', 'error', 'error', 'error']);
    assert.equal((await latestValidConfig(stranger, policy({ requireSigned: true }))).chosen, undefined);
  });

  it('a commit whose content no longer matches its signature is bad', async function () {
    const repo = repoFor(signer);
    await repo.sync();
    const [only] = await repo.candidates({ branch: 'tampered', depth: 1 });
    assert.deepEqual([only?.commit, only?.subject, only?.signature], [tampered, 'v2 (tampered)', 'bad']);
    const result = await latestValidConfig(repo, policy({ branch: 'tampered', depth: 1, requireSigned: true }));
    assert.equal(result.chosen, undefined);
    assert.deepEqual(result.skipped, [{ commit: tampered, reason: 'bad signature (the commit does not match it)' }]);
  });

  it('with a tag pattern, only the matching tags count, newest first, and the branch is ignored', async function () {
    const repo = repoFor(signer);
    await repo.sync();
    const list = await repo.candidates({ tagPattern: 'config-v*', depth: 50 });
    assert.deepEqual(list.map((x) => [x.ref, x.commit, x.signature]), [
      ['refs/tags/config-v3', c[2], 'good'],
      ['refs/tags/config-v2', c[1], 'good'],
      ['refs/tags/config-v1', c[0], 'good'],
    ]);
    // v4 (newest on the branch, valid) is not tagged config-v*; v3 is tagged but invalid.
    const result = await latestValidConfig(repo, policy({ tagPattern: 'config-v*' }));
    assert.equal(result.chosen?.ref, 'refs/tags/config-v2');
    assert.equal(result.chosen?.commit, c[1]);
    assert.deepEqual(result.skipped.map((s) => s.commit), [c[2]]);
    assert.deepEqual(await repo.candidates({ tagPattern: 'release-*', depth: 50 }), []);
    assert.deepEqual(await latestValidConfig(repo, policy({ tagPattern: 'release-*' })), { skipped: [] });
  });

  it('depth bounds how far back candidates go', async function () {
    const repo = repoFor(signer);
    await repo.sync();
    assert.deepEqual((await repo.candidates({ branch: 'main', depth: 2 })).map((x) => x.commit), [c[3], c[2]]);
    assert.deepEqual((await repo.candidates({ tagPattern: 'config-v*', depth: 1 })).map((x) => x.commit), [c[2]]);
    const result = await latestValidConfig(repo, policy({ depth: 2, requireSigned: true }));
    assert.equal(result.chosen, undefined);
    assert.deepEqual(result.skipped.map((s) => s.commit), [c[3], c[2]]);
  });

  it('refuses a commit whose file target leaves the files root', async function () {
    const repo = repoFor(signer);
    await repo.sync();
    const result = await latestValidConfig(repo, policy({ branch: 'traversal', depth: 1 }));
    assert.equal(result.chosen, undefined);
    assert.deepEqual(result.skipped, [{ commit: traversal, reason: 'titan-config.yaml: files.0.target: must not contain ".." (it would leave the tree)' }]);
  });

  it('reads a file of a commit byte for byte; absent paths, directories and symlinks read as undefined', async function () {
    const repo = repoFor(signer);
    await repo.sync();
    assert.equal(await repo.readFile(c[0]!, 'conf/app.json'), appJson('1'));
    assert.equal(await repo.readFile(c[1]!, 'conf/app.json'), appJson('2'));
    assert.equal(await repo.readFile(c[1]!, 'conf/raw.txt'), rawText);
    assert.match(execFileSync('git', ['ls-tree', c[1]!, 'link.json'], { cwd: author.dir }).toString(), /^120000 blob /);
    for (const absent of ['conf/missing.json', 'conf', 'conf/', 'scripts/apply.sh/x', 'link.json']) {
      assert.equal(await repo.readFile(c[1]!, absent), undefined, absent);
    }
    await assert.rejects(repo.readFile('main', 'conf/app.json'), /"main" is not a full commit id/);
    await assert.rejects(repo.readFile('0'.repeat(40), 'conf/app.json'));
  });

  it('exports a commit tree with its modes, replacing what the directory held; its script runs', async function () {
    const repo = repoFor(signer);
    await repo.sync();
    const out = dir('export');
    await repo.exportTree(c[0]!, out);
    assert.equal(readFileSync(path.join(out, 'conf/app.json'), 'utf8'), appJson('1'));
    assert.ok(statSync(path.join(out, 'scripts/apply.sh')).mode & 0o100, 'the script stays executable');
    assert.equal(execFileSync(path.join(out, 'scripts/apply.sh'), ['--mode', 'v1']).toString(), 'applied --mode v1\n');

    writeFileSync(path.join(out, 'stale'), 'left from before');
    await repo.exportTree(c[1]!, out);
    assert.equal(existsSync(path.join(out, 'stale')), false);
    assert.equal(readFileSync(path.join(out, 'conf/app.json'), 'utf8'), appJson('2'));
    assert.deepEqual(readdirSync(root).filter((f) => f.startsWith('export.')), [], 'no staging directory left');
  });

  it('a later sync brings new commits and tags and drops deleted tags; syncing again changes nothing', async function () {
    // Its own origin, so the other tests keep theirs.
    const copy = await ConfigAuthor.init(dir('origin-copy'), { keyring: signer, fingerprint }, dir('home'));
    await copy.git().raw(['pull', '--quiet', author.dir, 'main']);
    await copy.git().raw(['fetch', '--quiet', author.dir, 'refs/tags/*:refs/tags/*']);
    const repo = repoFor(signer, dir('cache-copy'), copy.dir);
    await repo.sync();
    const refs = () => execFileSync('git', ['for-each-ref'], { cwd: dir('cache-copy') }).toString();
    const before = refs();
    await repo.sync();
    assert.equal(refs(), before, 'a second sync changes nothing');

    const c5 = await copy.commit('v5', manifest('v5'), {}, { sign: true });
    await copy.tag('config-v0-rollback', c[0]!, { annotated: true }); // created last: newest, whatever its name
    await copy.git().raw(['tag', '-d', 'config-v3']);
    await repo.sync();
    assert.equal((await repo.candidates({ branch: 'main', depth: 1 }))[0]?.commit, c5);
    assert.deepEqual((await repo.candidates({ tagPattern: 'config-v*', depth: 50 })).map((x) => [x.ref, x.commit]), [
      ['refs/tags/config-v0-rollback', c[0]],
      ['refs/tags/config-v2', c[1]],
    ]);
  });

  it('follows a changed repository URL', async function () {
    const moved = dir('origin-moved.git');
    execFileSync('git', ['clone', '--quiet', '--bare', author.dir, moved]);
    execFileSync('git', ['--git-dir', moved, 'update-ref', 'refs/heads/main', c[1]!]);
    const cache = dir('cache-moving');
    await repoFor(signer, cache).sync();
    const repo = repoFor(signer, cache, moved);
    await repo.sync();
    assert.equal((await repo.candidates({ branch: 'main', depth: 1 }))[0]?.commit, c[1]);
  });

  for (const [i, what, url] of [[1, 'a nonexistent path', '/nonexistent/titan-config.git'], [2, 'an unreachable URL', 'http://127.0.0.1:9/x.git']] as const) {
    it(`an unreachable repository (${what}) is one clear error naming it, and leaves no cache behind`, async function () {
      const cache = dir(`cache-unreachable-${i}`);
      const repo = new ConfigRepo(url, cache);
      const err = await repo.sync().then(() => assert.fail('sync succeeded'), (e: unknown) => e);
      assert.ok(err instanceof ConfigRepoError, String(err));
      assert.equal(err.message.split('\n').length, 1, err.message);
      assert.ok(err.message.startsWith(`config repository ${url}: cannot clone: `), err.message);
      assert.ok(err.message.length > `config repository ${url}: cannot clone: `.length + 10, 'says why');
      assert.equal(existsSync(cache), false);
      assert.deepEqual(readdirSync(root).filter((f) => f.startsWith(`${path.basename(cache)}.`)), [], 'no staging clone left');
      await assert.rejects(repo.candidates({ depth: 1 }), /not synced into .* yet/);
    });
  }

  it('a synced repository that became unreachable fails its fetch naming the URL; a missing branch is named', async function () {
    const cache = dir('cache-gone');
    await repoFor(signer, cache).sync();
    const gone = '/nonexistent/titan-config-moved.git';
    await assert.rejects(repoFor(signer, cache, gone).sync(), (e: Error) => e instanceof ConfigRepoError && e.message.startsWith(`config repository ${gone}: cannot fetch: `) && !e.message.includes('\n'));
    await assert.rejects(repoFor(signer, cache).candidates({ branch: 'release', depth: 5 }), /has no branch "release"/);
  });
});
