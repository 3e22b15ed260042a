// Titan against the reference implementation: one realistic compose file deployed as project A by
// `docker-compose up -d` (Debian's 1.29.2) and as project B by `titan modules restore`, the
// containers compared field by field with `docker inspect`. This test is the definition of
// "supported". The fields docker-compose 1.29 does not know (healthcheck.start_interval,
// depends_on restart) are checked against the compose specification's meaning instead.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Docker from 'dockerode';
import type { RestoreModulesResult } from '../../src/workflows/module-restore';
import { titan } from '../helpers/cli';
import { freePort } from '../helpers/redis-server';
import { dockerSocket, repoRoot, uniqueName } from '../helpers/stack';
import { type TestEnv, writeTestEnvironment } from '../helpers/titan-env';
import { until } from '../helpers/wait';
import { startWorker } from '../helpers/worker';

const COMPOSE = `
x-module: &module
  image: 127.0.0.1:5000/titan/module:\${MODULE_TAG:-1}
  network_mode: host
  restart: unless-stopped
  init: true
  logging:
    driver: json-file
    options: {max-size: 1m, max-file: "2"}
  labels: &labels
    com.example.team: shop
x-health: &health
  interval: 1s
  timeout: 1s
  retries: 3
  start_period: 3s

services:
  store:
    <<: *module
    env_file: [./common.env, ./store.env]
    environment:
      PORT: \${STORE_PORT}
      ROLE: store
      FROM_SHELL:
    user: "65534:65534"
    working_dir: /www
    volumes:
      - data:/data
      - ./conf:/etc/store:ro
      - type: bind
        source: ./state
        target: /state
      - type: volume
        source: cache
        target: /cache
        read_only: true
    tmpfs: ["/run:size=64k", /tmp]
    healthcheck:
      <<: *health
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:\${STORE_PORT}/health"]
    ulimits:
      nofile: {soft: 1024, hard: 2048}
      nproc: 256
    cap_drop: [ALL]
    cap_add: [NET_BIND_SERVICE, CHOWN]
    extra_hosts: ["store.local:127.0.0.1", "peer.local:127.0.0.2"]
    deploy:
      resources:
        limits: {memory: 64M, cpus: "0.5"}
    stop_signal: SIGINT
    stop_grace_period: 5s
  migrate:
    <<: *module
    restart: "no"
    entrypoint: /bin/sh -c
    command: ["echo migrated \\"$$ROLE\\"; exit 0"]
    environment: [ROLE=migrate]
    depends_on:
      store: {condition: service_healthy}
    healthcheck: {disable: true}
  api:
    <<: *module
    env_file: ./common.env
    environment:
      - PORT=\${API_PORT}
      - ROLE=api
      - LITERAL=$\${not_a_variable}
    labels:
      <<: *labels
      role: api
    depends_on:
      store: {condition: service_healthy}
      migrate: {condition: service_completed_successfully}
    healthcheck:
      <<: *health
      test: wget -q -O /dev/null http://127.0.0.1:\${API_PORT}/health
  web:
    <<: *module
    profiles: [front]
    environment: {PORT: "\${WEB_PORT}"}
    depends_on: [api]
  debug:
    <<: *module
    profiles: [debug]
    environment: {PORT: "\${DEBUG_PORT:-1}"}

volumes:
  data:
    labels: {com.example.backup: nightly}
  cache: {}
`;

/** The services both deploy (web by its profile; debug's profile is not enabled). */
const DEPLOYED = ['api', 'migrate', 'store', 'web'];

describe('agreement with docker-compose 1.29: the same compose file deployed by both', function () {
  const docker = new Docker({ socketPath: dockerSocket });
  const projectA = uniqueName('cmpa').toLowerCase().replace(/[^a-z0-9]/g, '');
  const projectB = uniqueName('cmpb').toLowerCase().replace(/[^a-z0-9]/g, '');
  const composeEnv = { ...process.env, DOCKER_HOST: `unix://${dockerSocket}`, DOCKER_CONFIG: path.join(repoRoot, '.titan', 'docker-config') };
  let dir: string;
  let file: string;
  let env: TestEnv;
  let worker: { stop(): Promise<void> } | undefined;
  const inspected: Record<'A' | 'B', Record<string, Docker.ContainerInspectInfo>> = { A: {}, B: {} };

  const compose = (project: string, ...args: string[]) =>
    execFileSync('docker-compose', ['-f', file, '-p', project, '--profile', 'front', ...args], { env: composeEnv, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const containersOf = async (project: string) => Object.fromEntries((await docker.listContainers({ all: true, filters: { label: [`com.docker.compose.project=${project}`] } }))
    .map((c) => [c.Labels['com.docker.compose.service']!, c]));
  const inspectAll = async (project: string) => Object.fromEntries(await Promise.all(Object.entries(await containersOf(project))
    .map(async ([s, c]) => [s, await docker.getContainer(c.Id).inspect()] as const)));
  const settled = (project: string) => until(`${project}: store and api healthy, migrate completed`, async () => {
    const c = await inspectAll(project);
    return c.store?.State.Health?.Status === 'healthy' && c.api?.State.Health?.Status === 'healthy' && c.migrate?.State.Status === 'exited' ? c : undefined;
  }, 60_000);

  before(async function () {
    this.timeout(300_000);
    dir = mkdtempSync(path.join(os.tmpdir(), 'titan-agreement-'));
    file = path.join(dir, 'docker-compose.yml');
    writeFileSync(file, COMPOSE);
    const ports = { STORE_PORT: await freePort(), API_PORT: await freePort(), WEB_PORT: await freePort() };
    writeFileSync(path.join(dir, '.env'), `${Object.entries(ports).map(([k, v]) => `${k}=${v}`).join('\n')}\nMODULE_TAG=1\nFROM_SHELL=from-dotenv\n`);
    writeFileSync(path.join(dir, 'common.env'), '# every module\nexport REGION=eu-west\nGREETING="hello  world"\nLOG_LEVEL=info # inline comment\n');
    writeFileSync(path.join(dir, 'store.env'), 'LOG_LEVEL=debug\nSTORE_DIR=/srv/${LOG_LEVEL}/${UNSET_HERE:-data}\n');
    mkdirSync(path.join(dir, 'conf'));
    mkdirSync(path.join(dir, 'state'));
    writeFileSync(path.join(dir, 'conf', 'store.conf'), 'x=1\n');

    // A: the reference.
    compose(projectA, 'up', '-d');
    inspected.A = await settled(projectA);
    compose(projectA, 'down'); // host networking: the ports are B's next; the named volumes stay

    // B: Titan, through the CLI as an operator runs it.
    env = writeTestEnvironment({
      redisUrl: 'redis://127.0.0.1:1', docker: { socketPath: dockerSocket },
      modules: { composeFile: file, project: projectB, profiles: ['front'], registry: { address: '127.0.0.1:5000', usernameEnv: 'TITAN_REGISTRY_USER', passwordEnv: 'TITAN_REGISTRY_PASSWORD' }, stopTimeout: '2s', healthDeadline: '30s' },
    });
    worker = await startWorker(env);
    const run = await titan(['--config', env.file, '--json', 'modules', 'restore']);
    assert.equal(run.code, 0, run.stderr);
    inspected.B = await settled(projectB);
  });

  after(async () => {
    await worker?.stop();
    for (const p of [projectA, projectB]) {
      for (const c of Object.values(await containersOf(p))) await docker.getContainer(c.Id).remove({ force: true });
      for (const v of ['data', 'cache']) await docker.getVolume(`${p}_${v}`).remove().catch(() => undefined);
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('both deploy the same services: the enabled profile, not the other', () => {
    assert.deepEqual(Object.keys(inspected.A).sort(), DEPLOYED);
    assert.deepEqual(Object.keys(inspected.B).sort(), DEPLOYED);
  });

  // Lists whose order carries no meaning (Env, capabilities, hosts, ulimits, mounts) are compared
  // sorted: docker-compose keeps the file's order, Titan sorts so that the order never changes
  // its configuration hash. The project's name is B's in A's values (label, volume names).
  const sorted = <T>(l: T[] | null | undefined) => (l ? [...l].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1)) : l);
  const FIELDS: Record<string, (c: Docker.ContainerInspectInfo) => unknown> = {
    Image: (c) => c.Config.Image,
    Env: (c) => sorted(c.Config.Env),
    Cmd: (c) => c.Config.Cmd,
    Entrypoint: (c) => c.Config.Entrypoint,
    User: (c) => c.Config.User,
    WorkingDir: (c) => c.Config.WorkingDir,
    // Not the configuration hashes (each tool's own) nor Titan's own redeploy marker.
    Labels: (c) => Object.fromEntries(Object.entries(c.Config.Labels ?? {}).filter(([k]) => k !== 'com.docker.compose.config-hash' && k !== 'titan.deploy').sort()),
    Healthcheck: (c) => (c.Config as { Healthcheck?: unknown }).Healthcheck,
    RestartPolicy: (c) => c.HostConfig.RestartPolicy,
    Mounts: (c) => sorted(c.Mounts.map((m) => ({ ...m, Source: m.Type === 'volume' ? m.Source.replace(/[^/]+_(data|cache)/, '<volume>') : m.Source })).map(({ Name: _, ...m }) => m)),
    MountNames: (c) => c.Mounts.filter((m) => m.Type === 'volume').map((m) => m.Name).sort(),
    Ulimits: (c) => sorted(c.HostConfig.Ulimits),
    CapAdd: (c) => sorted(c.HostConfig.CapAdd),
    CapDrop: (c) => sorted(c.HostConfig.CapDrop),
    ExtraHosts: (c) => sorted(c.HostConfig.ExtraHosts),
    Memory: (c) => c.HostConfig.Memory,
    NanoCpus: (c) => c.HostConfig.NanoCpus,
    StopSignal: (c) => (c.Config as { StopSignal?: string }).StopSignal,
    StopTimeout: (c) => (c.Config as { StopTimeout?: number }).StopTimeout,
    Init: (c) => c.HostConfig.Init,
    Tmpfs: (c) => c.HostConfig.Tmpfs,
    LogConfig: (c) => c.HostConfig.LogConfig,
    NetworkMode: (c) => c.HostConfig.NetworkMode,
  };
  const asB = (v: unknown) => JSON.parse(JSON.stringify(v ?? null).replaceAll(projectA, projectB));

  for (const service of DEPLOYED) {
    it(`${service}: docker inspect agrees on ${Object.keys(FIELDS).join(', ')}`, () => {
      const a = inspected.A[service]!;
      const b = inspected.B[service]!;
      for (const [field, read] of Object.entries(FIELDS)) assert.deepEqual(JSON.parse(JSON.stringify(read(b) ?? null)), asB(read(a)), `${service}: ${field}`);
    });
  }

  it('the file used what it should: env_file, .env, interpolation, limits (so agreeing is not agreeing on nothing)', () => {
    const store = inspected.B.store!;
    for (const e of ['REGION=eu-west', 'GREETING=hello  world', 'LOG_LEVEL=debug', 'STORE_DIR=/srv/debug/data', 'FROM_SHELL=from-dotenv', 'ROLE=store']) assert.ok(store.Config.Env.includes(e), e);
    assert.ok(inspected.B.api!.Config.Env.includes('LITERAL=${not_a_variable}'));
    assert.deepEqual(inspected.B.migrate!.Config.Entrypoint, ['/bin/sh', '-c']);
    assert.deepEqual(inspected.B.migrate!.Config.Cmd, ['echo migrated "$ROLE"; exit 0']);
    assert.deepEqual(inspected.B.migrate!.State.ExitCode, 0);
    assert.deepEqual([store.HostConfig.Memory, store.HostConfig.NanoCpus, store.HostConfig.Init], [64 * 1024 * 1024, 500_000_000, true]);
    assert.deepEqual(store.Mounts.filter((m) => m.Type === 'volume').map((m) => [m.Name, m.RW]).sort(), [[`${projectB}_cache`, false], [`${projectB}_data`, true]]);
  });

  it('named volumes carry the same labels as docker-compose\'s, and a redeploy keeps them and their data', async () => {
    for (const v of ['data', 'cache']) {
      const [a, b] = await Promise.all([projectA, projectB].map((p) => docker.getVolume(`${p}_${v}`).inspect()));
      assert.deepEqual(b.Labels, asB(a.Labels), v);
    }
    const marker = async (cmd: string[]) => {
      const exec = await docker.getContainer((await containersOf(projectB)).store!.Id).exec({ Cmd: cmd, User: '0', AttachStdout: true });
      const stream = await exec.start({});
      let out = '';
      stream.on('data', (d: Buffer) => (out += d.toString('latin1')));
      await new Promise((r) => stream.on('end', r));
      return out;
    };
    await marker(['sh', '-c', 'echo kept > /data/marker']);
    const createdAt = (await docker.getVolume(`${projectB}_data`).inspect() as unknown as { CreatedAt: string }).CreatedAt;
    await docker.getContainer(inspected.B.store!.Id).remove({ force: true });
    const run = await titan(['--config', env.file, '--json', 'modules', 'restore']);
    assert.equal(run.code, 0, run.stderr);
    const r = JSON.parse(run.stdout) as RestoreModulesResult;
    assert.deepEqual(r.outcomes.map((o) => [o.service, o.action]), [['store', 'redeployed']], 'only store: the completed job is not failed');
    assert.match(await marker(['cat', '/data/marker']), /kept/);
    assert.equal((await docker.getVolume(`${projectB}_data`).inspect() as unknown as { CreatedAt: string }).CreatedAt, createdAt, 'the same volume');
  });

  it('docker-compose sees Titan\'s containers as project B\'s own, and the one-shot job as done', async () => {
    const ps = compose(projectB, 'ps', '--services', '--filter', 'status=running');
    assert.deepEqual(ps.trim().split('\n').sort(), ['api', 'store', 'web']);
    const status = await titan(['--config', env.file, '--json', 'modules', 'status']);
    assert.equal(status.code, 0, status.stdout);
    const states = Object.fromEntries(JSON.parse(status.stdout).modules.map((m: { service: string; state: string }) => [m.service, m.state]));
    assert.deepEqual(states, { api: 'healthy', migrate: 'completed', store: 'healthy', web: 'healthy' });
  });
});

describe('compose fields docker-compose 1.29 does not know, against the compose specification', function () {
  const docker = new Docker({ socketPath: dockerSocket });
  const project = uniqueName('spec').toLowerCase().replace(/[^a-z0-9]/g, '');
  let dir: string;
  let file: string;
  let env: TestEnv;
  let worker: { stop(): Promise<void> } | undefined;

  /** Each test rewrites the one compose file of the project (read anew by every activity) after removing its containers. */
  const setUp = async (compose: (ports: number[]) => string) => {
    for (const c of Object.values(await containers(project))) await docker.getContainer(c.Id).remove({ force: true });
    writeFileSync(file, compose([await freePort(), await freePort()]));
    return { project, env };
  };
  const containers = async (project: string) => Object.fromEntries((await docker.listContainers({ all: true, filters: { label: [`com.docker.compose.project=${project}`] } }))
    .map((c) => [c.Labels['com.docker.compose.service']!, c]));
  const moduleService = (port: number, extra = '') => `
    image: 127.0.0.1:5000/titan/module:1
    network_mode: host
    environment: {PORT: "${port}"}
    healthcheck: {test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:${port}/health"], interval: 1s, retries: 3${extra}}`;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'titan-spec-'));
    file = path.join(dir, 'docker-compose.yml');
    env = writeTestEnvironment({
      redisUrl: 'redis://127.0.0.1:1', docker: { socketPath: dockerSocket },
      modules: { composeFile: file, project, registry: { address: '127.0.0.1:5000', usernameEnv: 'TITAN_REGISTRY_USER', passwordEnv: 'TITAN_REGISTRY_PASSWORD' }, stopTimeout: '2s', healthDeadline: '30s' },
    });
    worker = await startWorker(env);
  });
  after(async () => {
    await worker?.stop();
    for (const c of Object.values(await containers(project))) await docker.getContainer(c.Id).remove({ force: true });
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('depends_on restart: true: the dependent is restarted (same container, new start) after its dependency is redeployed', async () => {
    await setUp(([p1, p2]) => `services:\n  db:${moduleService(p1!)}\n  app:${moduleService(p2!)}\n    depends_on:\n      db: {condition: service_healthy, restart: true}\n`);
    const first = await titan(['--config', env.file, '--json', 'modules', 'restore']);
    assert.equal(first.code, 0, first.stderr);
    const before = await containers(project);
    const startedBefore = (await docker.getContainer(before.app!.Id).inspect()).State.StartedAt;
    await docker.getContainer(before.db!.Id).remove({ force: true });
    const run = await titan(['--config', env.file, '--json', 'modules', 'restore']);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual((JSON.parse(run.stdout) as RestoreModulesResult).outcomes.map((o) => [o.service, o.action]), [['db', 'redeployed'], ['app', 'restarted']]);
    const app = await docker.getContainer(before.app!.Id).inspect();
    assert.ok(Date.parse(app.State.StartedAt) > Date.parse(startedBefore), 'app started again');
    assert.equal(app.State.Health?.Status, 'healthy');
  });

  it('healthcheck start_interval: sent to an engine that honours it (API 1.44+), refused before anything is touched by one that would drop it', async () => {
    await setUp(([p1]) => `services:\n  probe:${moduleService(p1!, ', start_period: 30s, start_interval: 500ms')}\n`);
    const version = await docker.version();
    const run = await titan(['--config', env.file, '--json', 'modules', 'restore']);
    if (Number(version.ApiVersion.split('.')[1]) >= 44 && version.ApiVersion.startsWith('1.')) {
      assert.equal(run.code, 0, run.stderr);
      const c = await docker.getContainer((await containers(project)).probe!.Id).inspect();
      assert.equal((c.Config as { Healthcheck?: { StartInterval?: number } }).Healthcheck?.StartInterval, 500_000_000);
    } else {
      assert.notEqual(run.code, 0);
      assert.match(run.stderr, new RegExp(`services\\.probe\\.healthcheck\\.start_interval: needs Docker Engine 25 or later \\(API 1\\.44\\); this engine is ${version.Version.replace(/[.+]/g, '\\$&')} \\(API ${version.ApiVersion.replace('.', '\\.')}\\)`));
      assert.deepEqual(await containers(project), {}, 'nothing created');
    }
  });

  it('a key Titan does not support: one error naming the service and the field, nothing created', async () => {
    await setUp(([p1]) => `services:\n  tool:${moduleService(p1!)}\n    privileged: true\n`);
    const run = await titan(['--config', env.file, '--json', 'modules', 'restore']);
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /services\.tool: .*"privileged"/);
    assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
    assert.deepEqual(await containers(project), {});
  });
});
