// scripts/stack.sh as the tests' own prerequisite: status tells what runs where; `up` again is a
// no-op; the configuration repository it creates is what the default environment (titan.yaml)
// re-syncs, so its recovery runs every stage of the plan.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Docker from 'dockerode';
import Redis from 'ioredis';
import { parse } from 'yaml';
import { STAGES } from '../../src/lib/config';
import { drillEnvironment } from '../../src/lib/drill';
import { parseDotenv } from '../../src/lib/environment';
import { plannedStages } from '../../src/lib/recovery-plan';
import { loadEnvironment } from '../../src/load-environment';
import type { ResyncConfigResult } from '../../src/workflows/config-resync';
import { type ManagedRedis, startManagedRedis } from '../helpers/managed-redis';
import { moduleSection, writeModuleCompose } from '../helpers/module-compose';
import { freePort } from '../helpers/redis-server';
import { dockerSocket, repoRoot, stackCtl, stackSecrets, temporalClient, uniqueName } from '../helpers/stack';
import { writeTestEnvironment } from '../helpers/titan-env';
import { startWorker } from '../helpers/worker';

function pids(status: string): Record<string, string> {
  return Object.fromEntries([...status.matchAll(/^(\S+)\s+running pid (\d+)/gm)].map((m) => [m[1]!, m[2]!]));
}

/** Polls `probe` every 100 ms until it returns a value (not undefined) or `ms` pass. */
async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('the local stack', () => {
  let env: Record<string, string>;
  let registry: string;
  let docker: Docker;
  let login: { username: string; password: string; serveraddress: string };

  before(() => {
    env = parseDotenv(stackCtl('env'));
    registry = env.TITAN_REGISTRY!;
    docker = new Docker({ socketPath: env.DOCKER_HOST!.replace(/^unix:\/\//, '') });
    const secrets = stackSecrets();
    login = { username: secrets.TITAN_REGISTRY_USER!, password: secrets.TITAN_REGISTRY_PASSWORD!, serveraddress: registry };
  });

  /** Starts `image` with host networking, runs `use` on it, removes it whatever happens. */
  async function withContainer<T>(image: string, opts: Docker.ContainerCreateOptions, use: (c: Docker.Container) => Promise<T>): Promise<T> {
    const container = await docker.createContainer({ ...opts, Image: image, name: uniqueName('titan-stack-test'), HostConfig: { NetworkMode: 'host' } });
    try {
      await container.start();
      return await use(container);
    } finally {
      await container.remove({ force: true });
    }
  }

  it('status lists every service running, TCP ones on 127.0.0.1, Docker on its unix socket', () => {
    const status = stackCtl('status');
    assert.deepEqual(Object.keys(pids(status)).sort(), ['codec', 'docker', 'etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok', 'opensearch', 'redis', 'registry', 's3-offsite', 's3-primary', 'temporal', 'victorialogs']);
    // The Web UI decodes payloads through the stack's codec server.
    const devServer = readFileSync(`/proc/${pids(status).temporal}/cmdline`, 'utf8').split('\0').join(' ');
    assert.match(devServer, /--ui-codec-endpoint http:\/\/127\.0\.0\.1:8235/);
    for (const line of status.trim().split('\n')) {
      if (line.startsWith('docker ')) assert.ok(line.endsWith(env.DOCKER_HOST!), line);
      else assert.match(line, /127\.0\.0\.1/);
    }
    assert.match(env.DOCKER_HOST!, /^unix:\/\/\/.*\/\.titan\/run\/docker\.sock$/);
    assert.equal(registry, '127.0.0.1:5000');
  });

  it('`up` twice is harmless: nothing is restarted, no image is rebuilt', () => {
    const before = pids(stackCtl('status'));
    const out = stackCtl('up');
    assert.match(out, /already running/);
    assert.match(out, /image +up to date/);
    assert.deepEqual(pids(stackCtl('status')), before);
  });

  // As root the stack gives each weed a private /tmp; otherwise it cannot, and they share the host's.
  it('each SeaweedFS instance keeps its gRPC sockets in its own /tmp when the stack runs as root (another stack on the host cannot take them over), in the shared /tmp otherwise', () => {
    const root = process.getuid?.() === 0;
    const status = pids(stackCtl('status'));
    for (const [svc, volumeGrpc] of [['s3-primary', 18081], ['s3-offsite', 18082]] as const) {
      const pid = status[svc]!;
      const ownMounts = readlinkSync(`/proc/${pid}/ns/mnt`) !== readlinkSync('/proc/self/ns/mnt');
      assert.equal(ownMounts, root, `${svc} runs in its own mount namespace exactly when the stack runs as root`);
      const socket = `seaweedfs-volume-grpc-${volumeGrpc}.sock`;
      assert.equal(existsSync(path.join(repoRoot, '.titan', 'data', svc, 'tmp', socket)), root, `${svc}'s volume socket is under its data directory exactly as root`);
      assert.equal(existsSync(path.join(os.tmpdir(), socket)), !root, `${socket} in the host's /tmp exactly when not root`);
    }
  });

  it('the registry refuses no login and a wrong password, and accepts the generated login', async () => {
    const v2 = (auth?: string) =>
      fetch(`http://${registry}/v2/`, { headers: auth ? { authorization: `Basic ${Buffer.from(auth).toString('base64')}` } : {}, signal: AbortSignal.timeout(5000) });
    const anonymous = await v2();
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.headers.get('www-authenticate') ?? '', /^Basic /);
    assert.equal((await v2(`${login.username}:${login.password}x`)).status, 401);
    assert.equal((await v2(`${login.username}:${login.password}`)).status, 200);
  });

  it('the Docker engine answers on the stack socket and has no bridge network', async () => {
    assert.equal(String(await docker.ping()), 'OK');
    const names = (await docker.listNetworks()).map((n) => n.Name).sort();
    assert.deepEqual(names, ['host', 'none']);
  });

  it('titan/redis:7.0, pulled from the registry, answers PING with host networking as uid 999', async () => {
    const image = `${registry}/titan/redis:7.0`;
    await new Promise((resolve, reject) =>
      docker.pull(image, { authconfig: login }, (err, stream) => (err ? reject(err) : docker.modem.followProgress(stream!, (e) => (e ? reject(e) : resolve(undefined))))),
    );
    const config = (await docker.getImage(image).inspect()).Config;
    assert.equal(config.User, '999:999');
    const imageVersion = config.Env.find((e) => e.startsWith('REDIS_VERSION='))?.split('=')[1];
    const port = await freePort();
    await withContainer(image, { Cmd: ['--port', String(port), '--bind', '127.0.0.1', '--save', ''] }, async (container) => {
      const redis = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      redis.on('error', () => undefined);
      try {
        assert.equal(await until('PING', () => redis.connect().then(() => redis.ping())), 'PONG');
        assert.match(await redis.info('server'), new RegExp(`^redis_version:${imageVersion}\\r?$`, 'm'));
      } finally {
        redis.disconnect();
      }
      const { Pid } = (await container.inspect()).State;
      assert.match(readFileSync(`/proc/${Pid}/status`, 'utf8'), /^Uid:\s+999\s/m);
    });
  });

  it('titan/module tags 1, 2 and bad: /version is the tag, /health is ok except on bad, one log line per request', async () => {
    const expected = { '1': 200, '2': 200, bad: 404 };
    await Promise.all(
      Object.entries(expected).map(async ([tag, health]) => {
        const image = `${registry}/titan/module:${tag}`;
        const config = (await docker.getImage(image).inspect()).Config;
        assert.ok(config.Env.includes(`MODULE_VERSION=${tag}`), tag);
        assert.ok(config.Healthcheck?.Test?.length, `${tag}: a HEALTHCHECK`);
        const port = await freePort();
        await withContainer(image, { Env: [`PORT=${port}`] }, async (container) => {
          const get = (p: string) => fetch(`http://127.0.0.1:${port}${p}`, { signal: AbortSignal.timeout(2000) });
          const version = await until(`${tag} /version`, () => get('/version').then((r) => (r.ok ? r.text() : undefined)));
          assert.equal(version.trim(), tag);
          const res = await get('/health');
          assert.equal(res.status, health, tag);
          if (health === 200) assert.equal((await res.text()).trim(), 'ok');
          // dockerd stores the log a moment after the response
          const logs = await until(`${tag}: its log`, async () => {
            const text = (await container.logs({ stdout: true, stderr: true })).toString();
            return new RegExp(`: /health ${health}\\n`).test(text) ? text : undefined;
          });
          assert.equal(logs.match(/: \/version 200\n/g)?.length, 1, `${tag}: one log line per request`);
        });
      }),
    );
  });

  describe('the configuration repository of the default environment (titan.yaml)', () => {
    const loaded = loadEnvironment(path.join(repoRoot, 'titan.yaml'));
    /** titan.yaml's configSync section and its repository's path. */
    const configSync = () => {
      assert.ok(loaded.env.configSync, 'titan.yaml has a configSync section');
      return { sync: loaded.env.configSync, repo: loaded.resolvePath(loaded.env.configSync.repo) };
    };
    const git = (...args: string[]) => execFileSync('git', ['-C', configSync().repo, ...args], { encoding: 'utf8' }).trim();

    it('titan.yaml plans every stage, redis → modules → config → logs, for recovery and for the drill', () => {
      assert.deepEqual(plannedStages(loaded.env), [...STAGES]);
      assert.deepEqual(plannedStages(drillEnvironment(loaded.env)), [...STAGES]);
    });

    it('`up` created it on branch main, and `up` again leaves its history alone', () => {
      const { sync, repo } = configSync();
      assert.equal(sync.branch, 'main');
      const head = git('rev-parse', 'refs/heads/main');
      assert.ok(existsSync(path.join(repo, 'titan-config.yaml')));
      assert.match(stackCtl('up'), /config repo present/);
      assert.equal(git('rev-parse', 'refs/heads/main'), head);
    });

    it('created from scripts/stack/config-repo when missing (one commit on main, the sample exactly), kept when present, refused over a directory that is not one', () => {
      const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'titan-config-repo-')), 'config-repo');
      // config-repo.sh's function alone, pointed at a directory of the test's own (the stack's repository stays as it is).
      const configRepoAt = (d: string) => execFileSync('bash', ['-c', 'set -euo pipefail; source "$ROOT/scripts/stack/common.sh"; source "$ROOT/scripts/stack/config-repo.sh"; CONFIG_REPO=$1; config_repo', 'config_repo', d],
        { env: { ...process.env, ROOT: repoRoot }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      const configRepo = () => configRepoAt(dir);
      const at = (...args: string[]) => execFileSync('git', ['-C', dir, ...args], { encoding: 'utf8' }).trim();
      assert.match(configRepo(), /config repo created/);
      assert.equal(at('rev-list', '--count', 'refs/heads/main'), '1');
      assert.equal(at('status', '--porcelain'), '', 'everything committed');
      const sample = path.join(repoRoot, 'scripts', 'stack', 'config-repo');
      assert.deepEqual(at('ls-files').split('\n').sort(), execFileSync('git', ['-C', sample, 'ls-files'], { encoding: 'utf8' }).trim().split('\n').sort());
      assert.equal(at('show', 'HEAD:titan-config.yaml'), readFileSync(path.join(sample, 'titan-config.yaml'), 'utf8').trim());
      const head = at('rev-parse', 'HEAD');
      assert.match(configRepo(), /config repo present/);
      assert.equal(at('rev-parse', 'HEAD'), head);

      const notRepo = path.join(path.dirname(dir), 'not-a-repo');
      mkdirSync(notRepo);
      assert.throws(() => configRepoAt(notRepo), (err: { stderr?: string }) => /exists but is not a Git repository: move it away/.test(err.stderr ?? ''));
    });

    it('re-synced by the real workflow: its keys under the prefix, one file per module of the stack, each module restarted', async function () {
      const { sync, repo } = configSync();
      const root = mkdtempSync(path.join(os.tmpdir(), 'titan-stack-config-'));
      const services = Object.keys(parse(readFileSync(loaded.resolvePath(loaded.env.modules!.composeFile!), 'utf8')).services).sort();
      const project = uniqueName('stackcfg').toLowerCase();
      await writeModuleCompose(path.join(root, 'compose.yml'), services);
      let redis: ManagedRedis | undefined;
      let worker: { stop(): Promise<void> } | undefined;
      const client = await temporalClient();
      try {
        redis = await startManagedRedis();
        process.env.TITAN_TEST_STACK_CONFIG_PASSWORD = redis.password;
        // The stack's repository and key prefix; a Redis, files root and module project of the test's own.
        const env = writeTestEnvironment({
          instances: { main: redis.instance('TITAN_TEST_STACK_CONFIG_PASSWORD') },
          docker: { socketPath: dockerSocket },
          modules: moduleSection(path.join(root, 'compose.yml'), project, { stopTimeout: '2s', healthDeadline: '20s' }),
          configSync: { ...sync, repo, filesRoot: path.join(root, 'files') },
        });
        worker = await startWorker(env);
        const run = (workflow: 'restoreModules' | 'resyncConfig') => client.workflow.execute(workflow, { taskQueue: env.taskQueue, workflowId: uniqueName(workflow), args: [{}] });
        await run('restoreModules');
        const r = await run('resyncConfig') as ResyncConfigResult;
        assert.equal(r.commit, git('rev-parse', 'refs/heads/main'));
        const keys = await redis.client().keys('*');
        assert.ok(r.keys.set.length >= 2, 'a few keys');
        assert.deepEqual(keys.filter((k) => k !== 'titan-config-applied').sort(), r.keys.set.map((k) => sync.keyPrefix + k).sort(), `every key under ${sync.keyPrefix}`);
        assert.deepEqual(r.restarted.sort(), services, 'a config file for every module of the stack, which it restarts');
        assert.equal(r.files.length, services.length);
        for (const f of r.files) assert.ok(readFileSync(path.join(root, 'files', f), 'utf8').length > 0, f);
      } finally {
        await worker?.stop();
        for (const c of await docker.listContainers({ all: true, filters: { label: [`com.docker.compose.project=${project}`] } })) await docker.getContainer(c.Id).remove({ force: true });
        await redis?.stop();
        await client.connection.close();
      }
    });
  });
});
