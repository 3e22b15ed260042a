// restoreModules on the stack's real Docker engine and private registry: module containers built
// from the registry's images, broken in the ways the recovery plan names, brought back in
// dependency order; untouched modules keep their containers.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import Docker from 'dockerode';
import { stringify } from 'yaml';
import type { RestoreModulesResult } from '../../src/workflows/module-restore';
import { ErrorType } from '../../src/lib/errors';
import { failureOf } from '../helpers/backups';
import { titan } from '../helpers/cli';
import { freePort } from '../helpers/redis-server';
import { dockerSocket, temporalClient, uniqueName } from '../helpers/stack';
import { type TestEnv, writeTestEnvironment } from '../helpers/titan-env';
import { until } from '../helpers/wait';
import { spawnWorker, startWorker } from '../helpers/worker';

const IMAGE = (tag: string) => `127.0.0.1:5000/titan/module:${tag}`;
// store ← api ← web, store ← jobs; cache stands alone.
const DEPENDS: Record<string, string[]> = { store: [], cache: [], api: ['store'], jobs: ['store'], web: ['api'] };

describe('restoreModules on the real Docker engine and registry', function () {
  const docker = new Docker({ socketPath: dockerSocket });
  let client: Client;
  let project: string;
  let composeFile: string;
  let env: TestEnv;
  let worker: { stop(): Promise<void> };
  const tags: Record<string, string> = { store: '1', cache: '1', api: '1', jobs: '1', web: '1' };
  const ports: Record<string, number> = {};

  function writeCompose() {
    const services = Object.fromEntries(Object.keys(DEPENDS).map((s) => [s, {
      image: IMAGE(tags[s]!),
      network_mode: 'host',
      environment: { PORT: String(ports[s]) },
      restart: 'unless-stopped',
      healthcheck: { test: ['CMD', 'wget', '-q', '-O', '/dev/null', `http://127.0.0.1:${ports[s]}/health`], interval: '1s', timeout: '1s', retries: 2 },
      ...(DEPENDS[s]!.length ? { depends_on: Object.fromEntries(DEPENDS[s]!.map((d) => [d, { condition: 'service_healthy' }])) } : {}),
    }]));
    writeFileSync(composeFile, stringify({ services }));
  }

  const containers = async () => {
    const list = await docker.listContainers({ all: true, filters: { label: [`com.docker.compose.project=${project}`] } });
    return Object.fromEntries(list.map((c) => [c.Labels['com.docker.compose.service']!, c]));
  };
  const ids = async () => Object.fromEntries(Object.entries(await containers()).map(([s, c]) => [s, c.Id]));
  const restore = (e: TestEnv = env): Promise<RestoreModulesResult> =>
    client.workflow.execute('restoreModules', { taskQueue: e.taskQueue, workflowId: uniqueName('modules'), args: [{}] });
  const inspect = async (service: string) => docker.getContainer((await containers())[service]!.Id).inspect();

  before(async () => {
    client = await temporalClient();
    project = uniqueName('mod').toLowerCase();
    for (const s of Object.keys(DEPENDS)) ports[s] = await freePort();
    composeFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'titan-modules-')), 'docker-compose.yml');
    writeCompose();
    env = writeTestEnvironment({ redisUrl: 'redis://127.0.0.1:1', docker: { socketPath: dockerSocket }, modules: moduleSection(composeFile, project, 'TITAN_REGISTRY_PASSWORD') });
    worker = await startWorker(env);
    const first = await restore();
    assert.deepEqual(first.waves, [['cache', 'store'], ['api', 'jobs'], ['web']], 'a fresh project: every module missing, started in dependency waves');
  });
  after(async () => {
    await worker?.stop();
    for (const c of Object.values(await containers())) await docker.getContainer(c.Id).remove({ force: true });
    await client?.connection.close();
  });

  it('killed, unhealthy, deleted and retagged modules: status names exactly those four; restore brings them back in order, the others keep their containers', async () => {
    const before = await ids();
    await docker.getContainer(before.api!).kill();
    await docker.getContainer(before.cache!).remove({ force: true });
    const exec = await docker.getContainer(before.jobs!).exec({ Cmd: ['rm', '/www/health'], User: '0' });
    await exec.start({});
    await until('jobs unhealthy', async () => ((await inspect('jobs')).State.Health?.Status === 'unhealthy' ? true : undefined));
    tags.web = '2';
    writeCompose();

    const status = await titan(['--config', env.file, '--json', 'modules', 'status']);
    assert.equal(status.code, 2, 'exit 2: some modules need a redeploy');
    const states = Object.fromEntries(JSON.parse(status.stdout).modules.map((m: { service: string; state: string; failed: boolean }) => [m.service, [m.state, m.failed]]));
    assert.deepEqual(states, { api: ['exited', true], cache: ['missing', true], jobs: ['unhealthy', true], store: ['healthy', false], web: ['image differs', true] });

    const r = await restore();
    assert.deepEqual(r.waves, [['api', 'cache', 'jobs'], ['web']]);
    assert.deepEqual(r.outcomes.map((o) => [o.service, o.action]).sort(), [['api', 'redeployed'], ['cache', 'redeployed'], ['jobs', 'redeployed'], ['web', 'redeployed']]);
    const after = await ids();
    assert.equal(after.store, before.store, 'the healthy module keeps its container');
    for (const s of ['api', 'cache', 'jobs', 'web']) assert.notEqual(after[s], before[s], `${s} recreated`);
    for (const s of Object.keys(DEPENDS)) assert.equal((await inspect(s)).State.Health?.Status, 'healthy', s);
    const started = Object.fromEntries(await Promise.all(['api', 'web'].map(async (s) => [s, Date.parse((await inspect(s)).State.StartedAt)] as const)));
    assert.ok(started.web! > started.api!, 'web (depends on api) started after api');
    assert.equal((await inspect('web')).Config.Image, IMAGE('2'));
    // docker-compose sees our containers as the project's own.
    const ps = execFileSync('docker-compose', ['-f', composeFile, '-p', project, 'ps', '--services', '--filter', 'status=running'], { env: { ...process.env, DOCKER_HOST: `unix://${dockerSocket}` }, encoding: 'utf8' });
    assert.deepEqual(ps.trim().split('\n').sort(), Object.keys(DEPENDS).sort());

    const again = await restore();
    assert.deepEqual(again.outcomes, [], 'restoring a healthy set changes nothing');
    assert.deepEqual(await ids(), after);
  });

  it('a bad new image whose health never passes is rolled back to the digest it ran before', async () => {
    const previous = (await inspect('web')).Image;
    tags.web = 'bad';
    writeCompose();
    const f = await failureOf(restore());
    assert.equal(f.type, ErrorType.ModuleRestoreFailed);
    assert.match(f.message, /web rolled back \(not healthy within 20s/);
    const web = await inspect('web');
    assert.equal(web.Image, previous, 'running the previous image again');
    assert.equal(web.State.Health?.Status, 'healthy');
    tags.web = '2';
    writeCompose();
    await restore();
  });

  it('a module that cannot be brought back (no earlier image to return to) stops its dependents from being redeployed', async () => {
    const before = await ids();
    await docker.getContainer(before.store!).remove({ force: true });
    await docker.getContainer(before.api!).kill();
    tags.store = 'bad';
    writeCompose();
    try {
      const f = await failureOf(restore());
      assert.equal(f.type, ErrorType.ModuleRestoreFailed);
      assert.match(f.message, /store failed \(not healthy within 20s/);
      assert.match(f.message, /api skipped \(not redeployed: store failed\)/);
      const api = await inspect('api');
      assert.equal(api.Id, before.api, 'the dependent was left as it was');
      assert.equal(api.State.Running, false);
    } finally {
      tags.store = '1';
      writeCompose();
    }
    const healed = await restore();
    assert.deepEqual(healed.outcomes.map((o) => [o.service, o.action]).sort(), [['api', 'redeployed'], ['store', 'redeployed']]);
  });

  it('a wrong registry password: one clear error, running modules untouched', async () => {
    process.env.TITAN_TEST_WRONG_REGISTRY_PASSWORD = 'not-the-password';
    const wrong = writeTestEnvironment({ redisUrl: 'redis://127.0.0.1:1', docker: { socketPath: dockerSocket }, modules: moduleSection(composeFile, project, 'TITAN_TEST_WRONG_REGISTRY_PASSWORD') });
    await docker.getContainer((await ids()).cache!).kill();
    const before = await containers();
    const w = await startWorker(wrong);
    try {
      const f = await failureOf(restore(wrong));
      assert.equal(f.type, ErrorType.RegistryAuthFailed);
      assert.equal(f.message, `registry 127.0.0.1:5000 refused the credentials of titan for ${IMAGE('1')}`);
    } finally {
      await w.stop();
    }
    const after = await containers();
    assert.deepEqual(Object.fromEntries(Object.entries(after).map(([s, c]) => [s, [c.Id, c.State]])), Object.fromEntries(Object.entries(before).map(([s, c]) => [s, [c.Id, c.State]])));
    await restore();
  });

  it('verification also needs the HTTP probe to answer and no error lines in the log since the start', async () => {
    const strict = writeTestEnvironment({
      redisUrl: 'redis://127.0.0.1:1', docker: { socketPath: dockerSocket },
      modules: { ...moduleSection(composeFile, project, 'TITAN_REGISTRY_PASSWORD'), probes: { cache: { url: `http://127.0.0.1:${ports.cache}/no-such-page` } }, errorPattern: ' 404$' },
    });
    await docker.getContainer((await ids()).cache!).kill();
    const w = await startWorker(strict);
    try {
      const f = await failureOf(restore(strict));
      assert.equal(f.type, ErrorType.ModuleRestoreFailed);
      assert.match(f.message, /cache failed \(probe http:\/\/127\.0\.0\.1:\d+\/no-such-page answered 404, expected 200; 1 error line\(s\) in its log since it started, e\.g\. ".*\/no-such-page 404"/);
    } finally {
      await w.stop();
      await restore(); // heals cache for the next test, also when this one failed
    }
  });

  it('titan modules restore: the bar counts steps (each image pulled, each module settled) up to all of them, the table names the modules', async () => {
    const before = await ids();
    await docker.getContainer(before.cache!).kill();
    await docker.getContainer(before.jobs!).kill();
    const run = await titan(['--config', env.file, 'modules', 'restore']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /cache\s+redeployed/);
    assert.match(run.stdout, /jobs\s+redeployed/);
    // stderr is not a terminal: the bar is a line every few seconds and one at the end.
    const bars = run.stderr.split('\n').filter((l) => l.startsWith('module restore ['));
    assert.match(bars.at(-1) ?? '', /\] 100% 3\/3 steps done$/, run.stderr); // one image (cache and jobs run the same), two modules
  });

  it('the worker killed in the middle of a redeploy, then restarted: the restore completes with no duplicate containers', async () => {
    await worker.stop();
    let child: ChildProcess = spawnWorker(env);
    try {
      const before = await ids();
      await docker.getContainer(before.api!).kill();
      await docker.getContainer(before.jobs!).remove({ force: true });
      const handle = await client.workflow.start('restoreModules', { taskQueue: env.taskQueue, workflowId: uniqueName('modules-kill'), args: [{}] });
      await until('a redeploy under way', async () => {
        const pending = (await handle.describe()).raw.pendingActivities ?? [];
        return pending.some((a) => ['redeployModule', 'verifyModule'].includes(a.activityType?.name ?? '')) ? true : undefined;
      });
      child.kill('SIGKILL');
      await once(child, 'exit');
      child = spawnWorker(env);
      const r: RestoreModulesResult = await handle.result();
      assert.deepEqual(r.outcomes.map((o) => [o.service, o.action]).sort(), [['api', 'redeployed'], ['jobs', 'redeployed']]);
      const all = await docker.listContainers({ all: true, filters: { label: [`com.docker.compose.project=${project}`] } });
      assert.deepEqual(all.map((c) => c.Labels['com.docker.compose.service']).sort(), Object.keys(DEPENDS).sort(), 'exactly one container per module');
      assert.ok(all.every((c) => c.State === 'running'));
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
      worker = await startWorker(env);
    }
  });
});

function moduleSection(composeFile: string, project: string, passwordEnv: string) {
  return { composeFile, project, registry: { address: '127.0.0.1:5000', usernameEnv: 'TITAN_REGISTRY_USER', passwordEnv }, stopTimeout: '2s', healthDeadline: '20s' };
}
