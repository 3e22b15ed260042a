// DR drills on the real stack: a production of a managed Redis, module containers, configuration
// from Git and the stack's VictoriaLogs; `titan drill --wait-for-sign-off` restores the latest
// backup into a sandbox Redis container while production keeps running on its changed data,
// redeploys the modules under the drill's compose project, re-syncs the configuration into the
// sandbox, and removes every trace of the sandbox when it ends — also when its modules stage fails.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import Redis from 'ioredis';
import { DRILL_SIGNER, drillContainerName } from '../../src/lib/drill';
import type { RecoveryReport, RecoveryStatus } from '../../src/lib/recovery-report';
import { STAGES } from '../../src/lib/config';
import { signOffUpdate } from '../../src/lib/messages';
import { runBackup, seedDataset } from '../helpers/backups';
import { titan } from '../helpers/cli';
import { ConfigAuthor, Keyring } from '../helpers/config-repos';
import { docker, LOG_STORE } from '../helpers/log-modules';
import { type ManagedRedis, startManagedRedis } from '../helpers/managed-redis';
import { dockerSocket, temporalClient, uniqueName } from '../helpers/stack';
import { type TestEnv, writeTestEnvironment } from '../helpers/titan-env';
import { until } from '../helpers/wait';
import { startWorker } from '../helpers/worker';
import { moduleSection, writeModuleCompose } from '../helpers/module-compose';
import { freePort } from '../helpers/redis-server';

const MODULES = ['alpha', 'beta'];

describe('DR drill on the real stack', function () {
  let client: Client;
  let root: string;
  let redis: ManagedRedis;
  let signer: Keyring;
  let env: TestEnv;
  let worker: { stop(): Promise<void> };
  let project: string;
  let drillProject: string;
  let drillPort: number;
  let drillDataDir: string;
  let drillFiles: string;
  let drillCompose: string;
  let backupDigest: unknown;
  const sandboxClients: Redis[] = [];

  const composeFile = (file: string, tag: string) => writeModuleCompose(file, MODULES, tag);
  const projectContainers = async (p: string) => (await docker.listContainers({ all: true, filters: { label: [`com.docker.compose.project=${p}`] } })).map((c) => `${c.Id}:${c.State}`).sort();
  const sandboxContainer = () => docker.getContainer(drillContainerName({ environment: env.environment })).inspect().then(() => true, () => false);
  const sandbox = () => {
    const c = new Redis({ host: '127.0.0.1', port: drillPort, password: redis.password, maxRetriesPerRequest: 1, lazyConnect: true });
    c.on('error', () => undefined);
    sandboxClients.push(c);
    return c;
  };
  /** What production looks like: Redis's process and data, the modules' containers. */
  const production = async () => ({ runId: await redis.runId(), digest: await redis.client().call('DEBUG', 'DIGEST'), modules: await projectContainers(project) });
  const assertSandboxGone = async () => {
    assert.equal(await sandboxContainer(), false, 'no sandbox Redis container');
    assert.deepEqual(await projectContainers(drillProject), [], 'no container of the drill project');
    assert.equal(existsSync(drillDataDir), false, 'no sandbox data dir');
    assert.equal(existsSync(drillFiles), false, 'no drill files root');
  };

  before(async function () {
    this.timeout(180_000);
    client = await temporalClient();
    root = mkdtempSync(path.join(os.tmpdir(), 'titan-drill-'));
    const filesRoot = path.join(root, 'files');
    mkdirSync(filesRoot);
    signer = new Keyring(path.join(root, 'gnupg'));
    const author = await ConfigAuthor.init(path.join(root, 'origin'), { keyring: signer, fingerprint: signer.generateKey() }, path.join(root, 'home'));
    await author.commit('titan config', { redis: { keys: { mode: 'v1' } }, files: [{ source: 'conf/alpha.conf', target: 'alpha/alpha.conf', modules: ['alpha'] }] }, { 'conf/alpha.conf': 'alpha v1\n' }, { sign: false });
    redis = await startManagedRedis();
    process.env.TITAN_TEST_DRILL_PASSWORD = redis.password;
    await seedDataset((db) => redis.client(db));

    project = uniqueName('drillprod').toLowerCase();
    drillProject = `${project}-drill`;
    await composeFile(path.join(root, 'compose.yml'), '1');
    drillCompose = path.join(root, 'compose.drill.yml');
    await composeFile(drillCompose, '1');
    drillPort = await freePort();
    drillDataDir = path.join(root, 'drill', 'redis');
    drillFiles = path.join(root, 'drill', 'files');
    env = writeTestEnvironment({
      instances: { main: redis.instance('TITAN_TEST_DRILL_PASSWORD') },
      offsite: false,
      docker: { socketPath: dockerSocket },
      modules: moduleSection(path.join(root, 'compose.yml'), project, { stopTimeout: '2s', healthDeadline: '8s' }),
      configSync: { repo: author.dir, redis: 'main', filesRoot, keyPrefix: 'app:' },
      logging: { store: { victorialogs: { url: LOG_STORE } } },
      recovery: {
        approvers: { default: ['alice'] },
        drill: {
          redis: { port: drillPort, dataDir: drillDataDir },
          modules: { project: drillProject, composeFile: drillCompose },
          config: { filesRoot: drillFiles },
          logs: { label: `${project}-drill` },
        },
      },
    });
    worker = await startWorker(env);
    // Titan running normally, then a backup.
    await client.workflow.execute('restoreModules', { taskQueue: env.taskQueue, workflowId: uniqueName('modules'), args: [{}] });
    await client.workflow.execute('resyncConfig', { taskQueue: env.taskQueue, workflowId: uniqueName('config'), args: [{}] });
    await runBackup(client, env);
    backupDigest = await redis.client().call('DEBUG', 'DIGEST');
    // Production moves on after the backup: the drill must neither see nor undo this.
    await redis.client().set('after-the-backup', 'production keeps this');
  });
  after(async function () {
    this.timeout(60_000);
    sandboxClients.forEach((c) => c.disconnect());
    await worker?.stop();
    for (const p of [project, drillProject]) {
      for (const c of await docker.listContainers({ all: true, filters: { label: [`com.docker.compose.project=${p}`] } })) await docker.getContainer(c.Id).remove({ force: true });
    }
    if (env) await docker.getContainer(drillContainerName({ environment: env.environment })).remove({ force: true }).catch(() => undefined);
    await redis?.stop();
    signer?.kill();
    rmSync(root, { recursive: true, force: true });
    await client?.connection.close();
  });

  it('titan drill --wait-for-sign-off: the sandbox holds the backup while production keeps its process and changed data; approved, it completes and leaves nothing behind', async () => {
    const before = await production();
    const started = await titan(['--config', env.file, '--json', 'drill', '--wait-for-sign-off']);
    assert.equal(started.code, 0, started.stderr);
    const out = JSON.parse(started.stdout) as { workflowId: string; recoveryWorkflowId: string; status: RecoveryStatus };
    assert.equal(out.workflowId, `titan-${env.environment}-drill`);
    assert.equal(out.status.waiting?.stage, 'redis');

    const s = sandbox();
    await s.connect();
    assert.equal(await s.call('DEBUG', 'DIGEST'), backupDigest, 'the sandbox holds exactly the backup');
    assert.equal(await s.get('after-the-backup'), null);
    assert.deepEqual(await production(), before, 'production: same process, same (changed) data, same modules');

    const recovery = client.workflow.getHandle(out.recoveryWorkflowId);
    for (const stage of STAGES) {
      await until(`drill stage ${stage} waiting`, async () => ((await recovery.query<RecoveryStatus>('recoveryStatus')).waiting?.stage === stage ? true : undefined), 90_000);
      await recovery.executeUpdate(signOffUpdate, { args: [{ stage, decision: 'approve', by: 'alice' }] });
    }
    const report: RecoveryReport = await client.workflow.getHandle(out.workflowId).result();
    assert.equal(report.outcome, 'completed');
    assert.ok(report.rto.totalMs! > 0, 'the measured RTO');
    assert.ok(report.drill?.cleanedUp?.includes(`Redis container ${drillContainerName({ environment: env.environment })}`), report.drill?.cleanedUp?.join('; '));
    await assertSandboxGone();
    assert.deepEqual(await production(), before, 'production untouched by the whole drill');
    const printed = await titan(['--config', env.file, 'report', out.workflowId]);
    assert.equal(printed.code, 0, printed.stderr);
    assert.match(printed.stdout, /^# Drill of /);
    assert.match(printed.stdout, /Sandbox removed: Redis container/);
  });

  it('a drill whose modules stage fails (image tag bad) ends there, signed off by titan-drill, and still removes the whole sandbox; production untouched', async () => {
    await composeFile(drillCompose, 'bad');
    const before = await production();
    const run = await titan(['--config', env.file, 'drill']);
    assert.equal(run.code, 1, run.stdout);
    assert.match(run.stderr, /^titan: drill aborted: modules attempt 1 failed: /m);
    assert.match(run.stderr, /^removed Redis container /m);
    await assertSandboxGone();
    assert.deepEqual(await production(), before);
    const report = JSON.parse((await titan(['--config', env.file, '--json', 'report', `titan-${env.environment}-drill`])).stdout) as RecoveryReport;
    assert.equal(report.outcome, 'aborted');
    assert.deepEqual(report.stages.map((x) => [x.name, x.state, x.signOffs.map((o) => `${o.decision} by ${o.by} (${o.via})`).join()]), [
      ['redis', 'approved', `approve by ${DRILL_SIGNER} (auto)`], ['modules', 'failed', `reject by ${DRILL_SIGNER} (auto)`], ['config', 'pending', ''], ['logs', 'pending', ''],
    ]);
  });
});
