// resyncConfig against a real Git repository (real gpg signatures), a real Redis key space and
// module containers on the stack's Docker engine.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import Docker from 'dockerode';
import type { ResyncConfigResult } from '../../src/workflows/config-resync';
import { ErrorType } from '../../src/lib/errors';
import { failureOf } from '../helpers/backups';
import { titan } from '../helpers/cli';
import { ConfigAuthor, Keyring } from '../helpers/config-repos';
import { type ManagedRedis, startManagedRedis } from '../helpers/managed-redis';
import { dockerSocket, temporalClient, uniqueName } from '../helpers/stack';
import { type TestEnv, writeTestEnvironment } from '../helpers/titan-env';
import { until } from '../helpers/wait';
import { spawnWorker, startWorker } from '../helpers/worker';
import { moduleSection, writeModuleCompose } from '../helpers/module-compose';

const MODULES = ['api', 'web'];

describe('resyncConfig on a real Git repository, Redis and Docker engine', function () {
  const docker = new Docker({ socketPath: dockerSocket });
  let client: Client;
  let root: string;
  let redis: ManagedRedis;
  let author: ConfigAuthor;
  let signer: Keyring;
  let project: string;
  let filesRoot: string;
  let env: TestEnv;
  let worker: { stop(): Promise<void> };
  const commits: Record<string, string> = {};

  const manifest = (keys: Record<string, string>) => ({
    redis: { keys },
    files: [
      { source: 'conf/web.conf', target: 'web/web.conf', modules: ['web'] },
      { source: 'conf/api.conf', target: 'api/api.conf', modules: ['api'] },
    ],
    scripts: [{ run: 'scripts/apply.sh', timeout: '10s' }],
  });
  const applyScript = '#!/bin/sh\nset -e\necho "$TITAN_CONFIG_COMMIT" > "$TITAN_CONFIG_FILES_ROOT/applied-by-script"\necho "applied"\n';
  const writeEnv = (configSync: Record<string, unknown> = {}) => writeTestEnvironment({
    instances: { main: redis.instance('TITAN_TEST_CONFIG_PASSWORD') },
    docker: { socketPath: dockerSocket },
    modules: moduleSection(path.join(root, 'compose.yml'), project, { stopTimeout: '2s', healthDeadline: '20s' }),
    configSync: { repo: author.dir, redis: 'main', filesRoot, keyPrefix: 'app:', ...configSync },
  });
  const resync = (to?: string, e: TestEnv = env): Promise<ResyncConfigResult> =>
    client.workflow.execute('resyncConfig', { taskQueue: e.taskQueue, workflowId: uniqueName('config'), args: [{ to }] });
  const started = async () => Object.fromEntries(await Promise.all(MODULES.map(async (s) => {
    const [c] = await docker.listContainers({ all: true, filters: { label: [`com.docker.compose.project=${project}`, `com.docker.compose.service=${s}`] } });
    return [s, `${c!.Id} ${(await docker.getContainer(c!.Id).inspect()).State.StartedAt}`] as const;
  })));
  const keys = async () => {
    const r = redis.client();
    const names = (await r.keys('app:*')).sort();
    return Object.fromEntries(await Promise.all(names.map(async (k) => [k, await r.get(k)] as const)));
  };
  const file = (t: string) => readFileSync(path.join(filesRoot, t), 'utf8');

  before(async () => {
    client = await temporalClient();
    root = mkdtempSync(path.join(os.tmpdir(), 'titan-config-'));
    filesRoot = path.join(root, 'files');
    mkdirSync(filesRoot);
    signer = new Keyring(path.join(root, 'gnupg'));
    const fingerprint = signer.generateKey();
    author = await ConfigAuthor.init(path.join(root, 'origin'), { keyring: signer, fingerprint }, path.join(root, 'home'));
    redis = await startManagedRedis();
    process.env.TITAN_TEST_CONFIG_PASSWORD = redis.password;
    project = uniqueName('cfg').toLowerCase();
    await writeModuleCompose(path.join(root, 'compose.yml'), MODULES);
    commits.c1 = await author.commit('c1', manifest({ mode: 'v1', 'limits.rps': '100' }), { 'conf/web.conf': 'web v1\n', 'conf/api.conf': 'api v1\n', 'scripts/apply.sh': applyScript }, { sign: true });
    env = writeEnv();
    worker = await startWorker(env);
    await client.workflow.execute('restoreModules', { taskQueue: env.taskQueue, workflowId: uniqueName('modules'), args: [{}] });
    const first = await resync();
    assert.equal(first.commit, commits.c1);
    assert.deepEqual(first.restarted.sort(), ['api', 'web'], 'a first apply writes every file');
  });
  after(async () => {
    await worker?.stop();
    for (const c of await docker.listContainers({ all: true, filters: { label: [`com.docker.compose.project=${project}`] } })) await docker.getContainer(c.Id).remove({ force: true });
    await redis?.stop();
    signer?.kill();
    await client?.connection.close();
  });

  it('picks the newest valid commit, says why the others were skipped, applies keys and files, restarts only the affected module, runs the scripts', async () => {
    commits.c2 = await author.commit('c2', manifest({ mode: 'v2' }), { 'conf/web.conf': 'web v2\n' }, { sign: true });
    commits.c3 = await author.commit('c3 broken', '{ redis: { keys: { mode: 3 } } }', {}, { sign: true });
    const before = await started();

    const r = await resync();
    assert.equal(r.commit, commits.c2);
    assert.deepEqual(r.skipped.map((s) => s.commit), [commits.c3]);
    assert.match(r.skipped[0]!.reason, /titan-config\.yaml: redis\.keys\.mode: must be a string \(quote it in YAML\)/);
    assert.deepEqual(await keys(), { 'app:mode': 'v2' }, 'the key the commit dropped is deleted');
    assert.equal(file('web/web.conf'), 'web v2\n');
    assert.deepEqual(r.restarted, ['web']);
    const after = await started();
    assert.notEqual(after.web, before.web, 'web restarted');
    assert.equal(after.api, before.api, 'api neither restarted nor replaced');
    assert.equal(file('applied-by-script').trim(), commits.c2, 'the config script ran with the commit');
    assert.equal(await redis.client().hget('titan-config-applied', 'commit'), commits.c2);
  });

  it('drift made by hand is reported by status, then healed by resync; a second resync changes and restarts nothing', async () => {
    await redis.client().set('app:mode', 'hand-edited');
    await redis.client().set('app:extra', 'x');
    writeFileSync(path.join(filesRoot, 'api', 'api.conf'), 'edited by hand\n');
    const status = await titan(['--config', env.file, '--json', 'config', 'status']);
    assert.equal(status.code, 2);
    assert.deepEqual(JSON.parse(status.stdout).drift, [
      { kind: 'key', name: 'extra', problem: 'unexpected' },
      { kind: 'key', name: 'mode', problem: 'differs' },
      { kind: 'file', name: 'api/api.conf', problem: 'differs' },
    ]);

    const healed = await resync();
    assert.deepEqual(healed.keys, { set: ['mode'], deleted: ['extra'] });
    assert.deepEqual(healed.files, ['api/api.conf']);
    assert.deepEqual(healed.restarted, ['api']);
    assert.equal((await titan(['--config', env.file, 'config', 'status'])).code, 0);

    const before = await started();
    const again = await resync();
    assert.deepEqual([again.keys, again.files, again.restarted], [{ set: [], deleted: [] }, [], []]);
    assert.deepEqual(await started(), before);
  });

  it('rollback re-applies the previous commit exactly', async () => {
    const run = await titan(['--config', env.file, '--json', 'config', 'rollback']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(JSON.parse(run.stdout).commit, commits.c1);
    assert.deepEqual(await keys(), { 'app:limits.rps': '100', 'app:mode': 'v1' });
    assert.deepEqual([file('web/web.conf'), file('api/api.conf')], ['web v1\n', 'api v1\n']);
    await resync(); // back to the latest for the next tests
  });

  it('signatures required: the newest unsigned commit is skipped for the newest signed valid one', async () => {
    commits.c4 = await author.commit('c4 unsigned', manifest({ mode: 'v4' }), {}, { sign: false });
    const signed = writeEnv({ requireSigned: true, gnupgHome: signer.home });
    const w = await startWorker(signed);
    try {
      const r = await resync(undefined, signed);
      assert.equal(r.commit, commits.c2);
      assert.deepEqual(r.skipped.map((s) => s.commit), [commits.c4, commits.c3]);
      assert.match(r.skipped[0]!.reason, /unsigned/);
    } finally {
      await w.stop();
    }
  });

  it('an unreachable repository: one clear error, nothing applied', async () => {
    const gone = writeEnv({ repo: path.join(root, 'no-such-repo') });
    const w = await startWorker(gone);
    const before = { keys: await keys(), web: file('web/web.conf') };
    try {
      const f = await failureOf(resync(undefined, gone));
      assert.equal(f.type, ErrorType.ConfigRepoUnreachable);
      assert.match(f.message, /^config repository .*no-such-repo: cannot clone: /);
      assert.equal(f.message.split('\n').length, 1);
    } finally {
      await w.stop();
    }
    assert.deepEqual({ keys: await keys(), web: file('web/web.conf') }, before);
  });

  it('the worker killed between applying keys and restarting modules, then restarted: the end state is as if uninterrupted', async () => {
    commits.c5 = await author.commit('c5', manifest({ mode: 'v5' }), { 'conf/web.conf': 'web v5\n' }, { sign: true });
    await worker.stop();
    let child: ChildProcess = spawnWorker(env);
    const before = await started();
    try {
      const handle = await client.workflow.start('resyncConfig', { taskQueue: env.taskQueue, workflowId: uniqueName('config-kill'), args: [{}] });
      await until('the keys applied', async () => {
        const events = (await handle.fetchHistory()).events ?? [];
        const scheduled = new Map(events.filter((e) => e.activityTaskScheduledEventAttributes).map((e) => [String(e.eventId), e.activityTaskScheduledEventAttributes!.activityType?.name]));
        return events.some((e) => e.activityTaskCompletedEventAttributes && scheduled.get(String(e.activityTaskCompletedEventAttributes.scheduledEventId)) === 'applyConfigKeys') ? true : undefined;
      }, 30_000);
      child.kill('SIGKILL');
      await once(child, 'exit');
      child = spawnWorker(env);
      const r: ResyncConfigResult = await handle.result();
      assert.equal(r.commit, commits.c5);
      assert.deepEqual(await keys(), { 'app:mode': 'v5' });
      assert.equal(file('web/web.conf'), 'web v5\n');
      const after = await started();
      assert.notEqual(after.web, before.web, 'web restarted after the crash');
      assert.equal(after.api, before.api);
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
      worker = await startWorker(env);
    }
  });

  it('a commit that drops a file: status names it, resync deletes it and restarts its module, rollback brings it back; files Titan never wrote stay', async () => {
    const notTitans = { 'api/local.conf': 'written by the operator\n', 'web/web.conf.bak': 'an old copy\n' };
    for (const [t, text] of Object.entries(notTitans)) writeFileSync(path.join(filesRoot, t), text);
    const webOnly = { ...manifest({ mode: 'v6' }), files: [{ source: 'conf/web.conf', target: 'web/web.conf', modules: ['web'] }] };
    commits.c6 = await author.commit('c6 drops api.conf', webOnly, { 'conf/api.conf': null }, { sign: true });

    const pending = await titan(['--config', env.file, '--json', 'config', 'status']);
    assert.equal(pending.code, 2);
    assert.deepEqual(JSON.parse(pending.stdout).drift, [
      { kind: 'key', name: 'mode', problem: 'differs' },
      { kind: 'file', name: 'api/api.conf', problem: 'unexpected' },
    ], 'the applied file the latest commit no longer declares, and nothing Titan never wrote');

    const before = await started();
    const r = await resync();
    assert.equal(r.commit, commits.c6);
    assert.deepEqual([r.removed, r.files, r.restarted], [['api/api.conf'], [], ['api']]);
    assert.equal(existsSync(path.join(filesRoot, 'api', 'api.conf')), false, 'the dropped file is gone');
    const after = await started();
    assert.notEqual(after.api, before.api, 'api, which used it, restarted');
    assert.equal(after.web, before.web, 'web untouched');
    for (const [t, text] of Object.entries(notTitans)) assert.equal(file(t), text, `${t} (never written by Titan) untouched`);
    const clean = await titan(['--config', env.file, 'config', 'status']);
    assert.equal(clean.code, 0, clean.stdout);
    const again = await resync();
    assert.deepEqual([again.removed, again.restarted], [[], []], 'a second re-sync deletes and restarts nothing');

    const back = await titan(['--config', env.file, '--json', 'config', 'rollback']);
    assert.equal(back.code, 0, back.stderr);
    assert.equal(JSON.parse(back.stdout).commit, commits.c5);
    assert.deepEqual(JSON.parse(back.stdout).restarted, ['api']);
    assert.equal(file('api/api.conf'), 'api v1\n', 'rollback brings it back');
    assert.notEqual((await started()).api, after.api);
    for (const [t, text] of Object.entries(notTitans)) assert.equal(file(t), text);
  });

  it('a record from before Titan kept the applied files: a file the applied commit dropped, left on disk, is drift, and the next re-sync deletes it', async () => {
    // What today's Titan leaves behind: c6 applied over c5, api.conf still on disk, no files recorded.
    await resync(commits.c6);
    writeFileSync(path.join(filesRoot, 'api', 'api.conf'), 'api v1\n');
    await redis.client().hdel('titan-config-applied', 'files');
    const status = await titan(['--config', env.file, 'config', 'status']);
    assert.equal(status.code, 2);
    assert.match(status.stdout, /api\/api\.conf\s+unexpected/);
    assert.doesNotMatch(status.stdout, /local\.conf/);
    const r = await resync();
    assert.deepEqual([r.removed, r.restarted], [['api/api.conf'], ['api']]);
    assert.equal(existsSync(path.join(filesRoot, 'api', 'api.conf')), false);
    assert.equal(file('api/local.conf'), 'written by the operator\n');
  });
});
