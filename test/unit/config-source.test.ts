import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { stringify } from 'yaml';
import { configSyncSchema } from '../../src/lib/config';
import { declaredFiles, driftReport, fileDigests, keyPlan, MANIFEST, signatureProblem, signatureStatus, staleFiles, validateConfigCommit } from '../../src/lib/config-source';

/** A commit as a map of paths; the manifest is given as an object (or raw text). */
function commit(manifest: unknown, files: Record<string, string> = {}): (p: string) => string | undefined {
  const all: Record<string, string> = { ...files, [MANIFEST]: typeof manifest === 'string' ? manifest : stringify(manifest) };
  return (p) => (Object.hasOwn(all, p) ? all[p] : undefined);
}

const good = {
  redis: { keys: { 'feature.x': 'on', limit: '10' } },
  files: [
    { source: 'app/settings.json', target: 'api/settings.json', modules: ['api', 'web'] },
    { source: './app//nginx.conf', target: 'web/./nginx.conf' },
  ],
  scripts: [{ run: 'scripts/migrate.sh', args: ['--fast'] }, { run: 'scripts/warm.sh', timeout: '2m' }],
};
const goodFiles = { 'app/settings.json': '{"a": 1}\n', 'app/nginx.conf': 'server {}\n', 'scripts/migrate.sh': '#!/bin/sh\n', 'scripts/warm.sh': '#!/bin/sh\n' };

/** The one-line problem the commit is refused with. */
function problemOf(read: (p: string) => string | undefined): string {
  const result = validateConfigCommit(read);
  assert.equal(result.ok, false, 'expected the commit to be refused');
  const { problem } = result as { problem: string };
  assert.equal(problem.split('\n').length, 1, 'one line');
  return problem;
}

/** `good` with one change applied. */
function variant(change: (m: any) => void): unknown {
  const m = structuredClone(good);
  change(m);
  return m;
}

describe('config repository manifest', () => {
  it('a valid commit gives its configuration, with defaults and normalised paths', () => {
    const result = validateConfigCommit(commit(good, goodFiles));
    assert.ok(result.ok, JSON.stringify(result));
    assert.deepEqual(result.config, {
      redis: { keys: { 'feature.x': 'on', limit: '10' } },
      files: [
        { source: 'app/settings.json', target: 'api/settings.json', modules: ['api', 'web'] },
        { source: 'app/nginx.conf', target: 'web/nginx.conf', modules: [] },
      ],
      scripts: [{ run: 'scripts/migrate.sh', args: ['--fast'], timeout: '30s' }, { run: 'scripts/warm.sh', args: [], timeout: '2m' }],
    });
  });

  it('an empty manifest is an empty configuration (everything under the namespace is removed)', () => {
    const result = validateConfigCommit(commit('{}'));
    assert.ok(result.ok);
    assert.deepEqual(result.config, { redis: { keys: {} }, files: [], scripts: [] });
  });

  const refused: [string, unknown, Record<string, string>, RegExp][] = [
    ['no manifest', undefined, goodFiles, /^titan-config\.yaml: not in the commit$/],
    ['unparsable YAML', 'redis:\n  keys: [unclosed\n', goodFiles, /^titan-config\.yaml: line \d+ not valid YAML: /],
    ['a top-level list', '- a\n- b\n', goodFiles, /^titan-config\.yaml: \(top level\): /],
    ['a number as a key value', variant((m) => (m.redis.keys.limit = 10)), goodFiles, /^titan-config\.yaml: redis\.keys\.limit: must be a string \(quote it in YAML\)$/],
    ['a misspelt section', variant((m) => (m.script = [])), goodFiles, /^titan-config\.yaml: \(top level\): unknown key "script" \(did you mean "scripts"\?\)$/],
    ['a misspelt required key, named before the missing one', variant((m) => { m.files[1].traget = m.files[1].target; delete m.files[1].target; }), goodFiles, /^titan-config\.yaml: files\.1: unknown key "traget" \(did you mean "target"\?\)$/],
    ['a file without a target', variant((m) => delete m.files[1].target), goodFiles, /^titan-config\.yaml: files\.1\.target: required$/],
    ['a bad module name', variant((m) => (m.files[0].modules = ['api', '-x'])), goodFiles, /^titan-config\.yaml: files\.0\.modules\.1: must be a compose service name$/],
    ['a bad script timeout', variant((m) => (m.scripts[1].timeout = 'soon')), goodFiles, /^titan-config\.yaml: scripts\.1\.timeout: must be a duration/],
    ['a source missing from the commit', variant((m) => (m.files[1].source = 'app/gone.conf')), goodFiles, /^titan-config\.yaml: files\.1\.source: "app\/gone\.conf" is not in the commit$/],
    ['a script missing from the commit', variant((m) => (m.scripts[0].run = 'scripts/gone.sh')), goodFiles, /^titan-config\.yaml: scripts\.0\.run: "scripts\/gone\.sh" is not in the commit$/],
    ['a JSON source that does not parse', good, { ...goodFiles, 'app/settings.json': '{"a": ' }, /^titan-config\.yaml: files\.0\.source: app\/settings\.json: not valid JSON: /],
    ['a YAML source that does not parse', variant((m) => (m.files[1].source = 'app/x.yml')), { ...goodFiles, 'app/x.yml': 'a: [1\n' }, /^titan-config\.yaml: files\.1\.source: app\/x\.yml: line \d+ not valid YAML: /],
    ['a duplicate target (after normalising)', variant((m) => (m.files[1].target = './api//settings.json')), goodFiles, /^titan-config\.yaml: files\.1\.target: "api\/settings\.json" is also the target of files\.0$/],
    ['a target under another file', variant((m) => (m.files[1].target = 'api/settings.json/x')), goodFiles, /^titan-config\.yaml: files\.1\.target: "api\/settings\.json\/x" lies under "api\/settings\.json", the target of files\.0$/],
    ['a target that is the files root itself', variant((m) => (m.files[1].target = './')), goodFiles, /^titan-config\.yaml: files\.1\.target: must name a file$/],
  ];
  for (const [what, manifest, files, expected] of refused) {
    it(`refuses ${what}`, () => {
      const read = manifest === undefined ? (p: string) => (p === MANIFEST ? undefined : files[p]) : commit(manifest, files);
      assert.match(problemOf(read), expected);
    });
  }

  const traversal: [string, (m: any) => void, string][] = [
    ['a target above the files root', (m) => (m.files[0].target = '../../etc/passwd'), 'files.0.target'],
    ['a target that climbs back out midway', (m) => (m.files[1].target = 'web/../../x'), 'files.1.target'],
    ['an absolute target', (m) => (m.files[0].target = '/etc/passwd'), 'files.0.target'],
    ['a source outside the tree', (m) => (m.files[0].source = '../secrets.json'), 'files.0.source'],
    ['an absolute source', (m) => (m.files[1].source = '/etc/shadow'), 'files.1.source'],
    ['a script outside the tree', (m) => (m.scripts[0].run = 'scripts/../../bin/sh'), 'scripts.0.run'],
    ['an absolute script', (m) => (m.scripts[1].run = '/bin/sh'), 'scripts.1.run'],
  ];
  for (const [what, change, field] of traversal) {
    it(`refuses path traversal: ${what}`, () => {
      // Every path a reader could be asked for exists, so only the path rule can refuse it.
      const read = (p: string) => (p === MANIFEST ? stringify(variant(change)) : 'content');
      assert.match(problemOf(read), new RegExp(`^titan-config\\.yaml: ${field.replace(/\./g, '\\.')}: must (not contain "\\.\\."|be a relative path)`));
    });
  }

  it('reads the manifest, then each referenced path once, and nothing else', () => {
    const asked: string[] = [];
    const read = commit(good, goodFiles);
    validateConfigCommit((p) => (asked.push(p), read(p)));
    assert.deepEqual(asked, [MANIFEST, 'app/settings.json', 'app/nginx.conf', 'scripts/migrate.sh', 'scripts/warm.sh']);
  });
});

describe('configSync section of the environment file', () => {
  const parse = (v: unknown) => configSyncSchema.safeParse(v);
  const base = { repo: 'https://git.example.invalid/titan/config.git', redis: 'main', filesRoot: '.titan/config-files' };

  it('fills the defaults', () => {
    assert.deepEqual(configSyncSchema.parse(base), { ...base, branch: 'main', requireSigned: false, depth: 50, keyPrefix: 'titan:config:' });
    assert.equal(configSyncSchema.parse({ ...base, tagPattern: 'config-v*' }).tagPattern, 'config-v*');
  });

  const bad: [string, Record<string, unknown>, string][] = [
    ['an inlined password', { repo: 'https://bot:hunter2@git.example.invalid/config.git' }, 'repo'],
    ['a repo that is an option', { repo: '--upload-pack=touch /tmp/x' }, 'repo'],
    ['a branch pattern', { branch: 'release/*' }, 'branch'],
    ['a branch with ..', { branch: 'a..b' }, 'branch'],
    ['a tag pattern starting with -', { tagPattern: '-v*' }, 'tagPattern'],
    ['a glob in the key prefix', { keyPrefix: 'titan:*' }, 'keyPrefix'],
    ['an empty key prefix', { keyPrefix: '' }, 'keyPrefix'],
    ['depth 0', { depth: 0 }, 'depth'],
    ['an unknown field', { composeFile: 'x.yaml' }, ''],
  ];
  for (const [what, change, field] of bad) {
    it(`refuses ${what}`, () => {
      const result = parse({ ...base, ...change });
      assert.equal(result.success, false);
      assert.equal(result.error!.issues[0]!.path.join('.'), field);
    });
  }
});

describe('commit signatures', () => {
  it('maps every %G? letter', () => {
    const mapped = Object.fromEntries(['G', 'B', 'N', 'U', 'X', 'Y', 'R', 'E', '?'].map((c) => [c, signatureStatus(c)]));
    assert.deepEqual(mapped, { G: 'good', B: 'bad', N: 'unsigned', U: 'untrusted', X: 'expired', Y: 'expired', R: 'revoked', E: 'error', '?': 'error' });
  });

  it('only a good signature from a trusted key counts when signatures are required; nothing counts against when not', () => {
    for (const s of ['good', 'bad', 'unsigned', 'untrusted', 'expired', 'revoked', 'error'] as const) {
      assert.equal(signatureProblem(s, false), undefined, s);
      assert.equal(signatureProblem(s, true) === undefined, s === 'good', s);
    }
    assert.equal(signatureProblem('unsigned', true), 'unsigned (signatures required)');
  });
});

describe('key plan', () => {
  it('sets new and changed keys, deletes removed ones, leaves equal ones alone', () => {
    assert.deepEqual(keyPlan({ a: '1', b: '2', gone: 'x' }, { b: '3', a: '1', c: '' }), { set: { b: '3', c: '' }, del: ['gone'] });
  });

  it('is empty when live equals desired (a second re-sync writes nothing)', () => {
    assert.deepEqual(keyPlan({ a: '1', b: '2' }, { b: '2', a: '1' }), { set: {}, del: [] });
  });

  it('an empty configuration deletes everything; an empty namespace gets everything', () => {
    assert.deepEqual(keyPlan({ b: '1', a: '2' }, {}), { set: {}, del: ['a', 'b'] });
    assert.deepEqual(keyPlan({}, { b: '1', a: '2' }), { set: { a: '2', b: '1' }, del: [] });
  });

  it('applied to the live keys, gives the desired ones; names such as "constructor" are plain keys', () => {
    const live: Record<string, string> = { constructor: 'x', keep: 'k', change: 'old', drop: 'd' };
    const desired: Record<string, string> = { keep: 'k', change: 'new', toString: 't', add: 'a' };
    const { set, del } = keyPlan(live, desired);
    const after = { ...live, ...set };
    for (const k of del) delete after[k];
    assert.deepEqual(after, desired);
  });
});

describe('files a commit dropped', () => {
  const config = (validateConfigCommit(commit(good, goodFiles)) as { config: Parameters<typeof staleFiles>[1] }).config;

  it("a commit's files are recorded with the modules that use them", () => {
    assert.deepEqual(declaredFiles(config), { 'api/settings.json': ['api', 'web'], 'web/nginx.conf': [] });
  });

  it('only files Titan applied that the commit no longer declares are stale, with their modules', () => {
    const applied = { 'api/settings.json': ['api'], 'old/gone.conf': ['old', 'api'], 'a/first.conf': [] };
    assert.deepEqual(staleFiles(applied, config), { 'a/first.conf': [], 'old/gone.conf': ['old', 'api'] });
    assert.deepEqual(staleFiles({}, config), {}, 'nothing applied, nothing to delete');
    assert.deepEqual(staleFiles(declaredFiles(config), config), {}, 'the same commit again deletes nothing');
  });
});

describe('drift report', () => {
  const sha = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

  it('is empty when everything matches', () => {
    assert.deepEqual(driftReport({ keys: { live: { a: '1' }, desired: { a: '1' } }, files: { live: { 'x.conf': sha('x') }, desired: { 'x.conf': sha('x') } } }), []);
  });

  it('names missing, differing and unexpected keys and files, keys first, sorted', () => {
    const report = driftReport({
      keys: { live: { z: '1', changed: 'old', extra: 'e' }, desired: { z: '1', changed: 'new', absent: 'a' } },
      files: {
        live: { 'b.conf': sha('edited by hand'), 'a.conf': undefined, 'old.conf': sha('o'), 'same.conf': sha('s'), 'gone-too.conf': undefined },
        desired: { 'b.conf': sha('b'), 'a.conf': sha('a'), 'same.conf': sha('s') },
      },
    });
    assert.deepEqual(report, [
      { kind: 'key', name: 'absent', problem: 'missing' },
      { kind: 'key', name: 'changed', problem: 'differs' },
      { kind: 'key', name: 'extra', problem: 'unexpected' },
      { kind: 'file', name: 'a.conf', problem: 'missing' },
      { kind: 'file', name: 'b.conf', problem: 'differs' },
      { kind: 'file', name: 'old.conf', problem: 'unexpected' },
    ]);
  });

  it("a commit's file digests are the SHA-256 of the bytes the file is rendered as", () => {
    const result = validateConfigCommit(commit(good, { ...goodFiles, 'app/nginx.conf': 'server { # é ✓ 𝄞\n}\n' }));
    assert.ok(result.ok);
    const digests = fileDigests(result.config, commit(good, { ...goodFiles, 'app/nginx.conf': 'server { # é ✓ 𝄞\n}\n' }));
    assert.deepEqual(digests, { 'api/settings.json': sha(goodFiles['app/settings.json']), 'web/nginx.conf': sha('server { # é ✓ 𝄞\n}\n') });
  });
});
