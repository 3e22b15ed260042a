// The whole product on the real stack, once per log store (VictoriaLogs, OpenSearch): a scripted
// disaster (Redis data destroyed, a module killed, configuration drifted, the log store down while
// modules log) → `titan recover` → sign-offs
// with the CLI (refused ones included) → every stage verified back; the worker SIGKILLed while
// the modules stage redeploys, then restarted → the recovery continues where it stopped. Then
// every history it wrote is scanned raw for what Titan handles: all of it is encrypted.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { RecoveryReport, RecoveryStatus } from '../../src/lib/recovery-report';
import { runBackup, seedDataset, stores } from '../helpers/backups';
import { titan } from '../helpers/cli';
import { ConfigAuthor, Keyring } from '../helpers/config-repos';
import { docker, emit } from '../helpers/log-modules';
import { LOG_STORES, victoriaLogs } from '../helpers/log-stores';
import { type ManagedRedis, startManagedRedis } from '../helpers/managed-redis';
import { rawPayloads, scanTaskQueue } from '../helpers/payloads';
import { CODEC_ENDPOINT, dockerSocket, repoRoot, stackCtl, temporalCli, temporalClient, uniqueName } from '../helpers/stack';
import { type TestEnv, writeTestEnvironment } from '../helpers/titan-env';
import { until } from '../helpers/wait';
import { spawnWorker } from '../helpers/worker';
import { moduleSection, writeModuleCompose } from '../helpers/module-compose';

const MODULES = ['alpha', 'beta', 'gamma'];

for (const logStore of LOG_STORES) describe(`full-disaster recovery on the real stack, logs in ${logStore.name}`, function () {
  let client: Client;
  let root: string;
  let redis: ManagedRedis;
  let signer: Keyring;
  let author: ConfigAuthor;
  let project: string;
  let filesRoot: string;
  let env: TestEnv;
  let worker: ChildProcess;

  const container = async (service: string) => {
    const [c] = await docker.listContainers({ all: true, filters: { label: [`com.docker.compose.project=${project}`, `com.docker.compose.service=${service}`] } });
    return c!.Id;
  };
  const cli = (...args: string[]) => titan(['--config', env.file, ...args]);

  before(async () => {
    client = await temporalClient();
    root = mkdtempSync(path.join(os.tmpdir(), 'titan-disaster-'));
    filesRoot = path.join(root, 'files');
    mkdirSync(filesRoot);
    signer = new Keyring(path.join(root, 'gnupg'));
    author = await ConfigAuthor.init(path.join(root, 'origin'), { keyring: signer, fingerprint: signer.generateKey() }, path.join(root, 'home'));
    await author.commit('titan config', {
      redis: { keys: { mode: 'v1' } },
      files: [
        { source: 'conf/alpha.conf', target: 'alpha/alpha.conf', modules: ['alpha'] },
        { source: 'conf/beta.conf', target: 'beta/beta.conf', modules: ['beta'] },
      ],
    }, { 'conf/alpha.conf': 'alpha v1\n', 'conf/beta.conf': 'beta v1\n' }, { sign: false });
    redis = await startManagedRedis();
    process.env.TITAN_TEST_DISASTER_PASSWORD = redis.password;
    await seedDataset((db) => redis.client(db));

    project = uniqueName('disaster').toLowerCase();
    await writeModuleCompose(path.join(root, 'compose.yml'), MODULES);
    env = writeTestEnvironment({
      instances: { main: redis.instance('TITAN_TEST_DISASTER_PASSWORD') },
      offsite: false,
      docker: { socketPath: dockerSocket },
      modules: moduleSection(path.join(root, 'compose.yml'), project, { stopTimeout: '2s', healthDeadline: '20s' }),
      configSync: { repo: author.dir, redis: 'main', filesRoot, keyPrefix: 'app:' },
      logging: { store: logStore.section },
      recovery: { approvers: { default: ['alice'], logs: ['carol'] } },
    });
    worker = spawnWorker(env);
    // Titan running normally: modules deployed, configuration applied, a backup, logs shipped.
    await client.workflow.execute('restoreModules', { taskQueue: env.taskQueue, workflowId: uniqueName('modules'), args: [{}] });
    await client.workflow.execute('resyncConfig', { taskQueue: env.taskQueue, workflowId: uniqueName('config'), args: [{}] });
    await runBackup(client, env);
    await client.workflow.execute('shipLogs', { taskQueue: env.taskQueue, workflowId: uniqueName('ship'), args: [{}] });
  });
  after(async () => {
    worker?.kill('SIGTERM');
    if (worker) await once(worker, 'exit');
    for (const c of await docker.listContainers({ all: true, filters: { label: [`com.docker.compose.project=${project}`] } })) await docker.getContainer(c.Id).remove({ force: true });
    await redis?.stop();
    signer?.kill();
    await client?.connection.close();
  });

  it('destroyed, killed, drifted and interrupted → titan recover → sign-offs → everything verified back, across a worker crash', async () => {
    const digest = await redis.client().call('DEBUG', 'DIGEST');
    const incidentAt = new Date().toISOString();

    // The disaster.
    await redis.client().flushall();
    rmSync(path.join(redis.dataDir, 'dump.rdb'), { force: true });
    await docker.getContainer(await container('alpha')).kill();
    writeFileSync(path.join(filesRoot, 'alpha', 'alpha.conf'), 'edited by hand\n');
    rmSync(path.join(filesRoot, 'beta', 'beta.conf'));
    stackCtl('stop', logStore.service);
    try {
      await emit(await container('beta'), 'outage-beta', 120);
      await emit(await container('gamma'), 'outage-gamma', 80);
    } finally {
      stackCtl('start', logStore.service);
    }

    const started = await cli('--json', 'recover', '--incident-at', incidentAt);
    assert.equal(started.code, 0, started.stderr);
    const id = JSON.parse(started.stdout).workflowId as string;
    assert.equal(id, `titan-${env.environment}-recovery`);
    const handle = client.workflow.getHandle(id);
    const waitingFor = (stage: string) => until(`stage ${stage} waiting for sign-off`, async () => {
      const s = await handle.query<RecoveryStatus>('recoveryStatus');
      return s.waiting?.stage === stage ? s : undefined;
    }, 180_000);

    await waitingFor('redis');
    assert.equal(await redis.client().call('DEBUG', 'DIGEST'), digest, 'Redis holds the backup again');
    const mallory = await cli('sign-off', '--stage', 'redis', '--approve', '--by', 'mallory');
    assert.equal(mallory.code, 1);
    assert.match(mallory.stderr, /mallory is not an approver for stage redis \(approvers: alice\)/);
    const early = await cli('sign-off', '--stage', 'modules', '--approve', '--by', 'alice');
    assert.equal(early.code, 1);
    assert.match(early.stderr, /stage modules is not waiting for a sign-off; stage redis is/);
    assert.equal((await cli('sign-off', '--stage', 'redis', '--approve', '--by', 'alice', '--comment', 'digest checked')).code, 0);

    // The worker dies while the modules stage redeploys alpha; a new one takes over.
    const modulesChild = client.workflow.getHandle(`${id}-modules-1`);
    await until('alpha being redeployed', async () => {
      const pending = (await modulesChild.describe()).raw.pendingActivities ?? [];
      return pending.some((a) => ['redeployModule', 'verifyModule'].includes(a.activityType?.name ?? '')) ? true : undefined;
    }, 120_000);
    worker.kill('SIGKILL');
    await once(worker, 'exit');
    worker = spawnWorker(env);

    await waitingFor('modules');
    assert.equal((await cli('sign-off', '--stage', 'modules', '--approve', '--by', 'alice')).code, 0);
    await waitingFor('config');
    assert.equal(readFileSync(path.join(filesRoot, 'alpha', 'alpha.conf'), 'utf8'), 'alpha v1\n');
    assert.equal(readFileSync(path.join(filesRoot, 'beta', 'beta.conf'), 'utf8'), 'beta v1\n');
    assert.equal((await cli('sign-off', '--stage', 'config', '--approve', '--by', 'alice')).code, 0);
    await waitingFor('logs');
    assert.equal((await cli('sign-off', '--stage', 'logs', '--approve', '--by', 'carol')).code, 0);

    const report: RecoveryReport = await handle.result();
    assert.equal(report.outcome, 'completed');
    assert.deepEqual(report.warnings, [], "nothing lost: alpha's last lines were spooled by its redeploy and shipped");
    for (const s of report.stages) {
      assert.equal(s.attempts.length, 1, `${s.name} ran once`);
      assert.equal(s.state, 'approved');
    }
    let retried = 0;
    for (const e of (await modulesChild.fetchHistory()).events ?? []) retried = Math.max(retried, e.activityTaskStartedEventAttributes?.attempt ?? 0);
    assert.ok(retried >= 2, 'the activity interrupted by the crash was retried');

    // Every system verified back by its own status command.
    assert.equal(await redis.client().call('DEBUG', 'DIGEST'), digest);
    for (const cmd of [['modules', 'status'], ['config', 'status'], ['logs', 'status']]) {
      const r = await cli(...cmd);
      assert.equal(r.code, 0, `titan ${cmd.join(' ')}: ${r.stdout}${r.stderr}`);
    }
    for (const [label, n] of [['outage-beta', 120], ['outage-gamma', 80]] as const) {
      const found = await logStore.prefixed(env.environment, { module: label.slice('outage-'.length) }, `${label} `);
      assert.deepEqual([found.n, found.texts], [n, n], `${label}: every outage line once`);
    }

    assert.ok(report.rpo && report.rpo.ms >= 0 && report.rpo.incidentAt === incidentAt, 'RPO counted from the incident to the snapshot');
    assert.ok(report.rto.totalMs! > 0 && report.rto.stages.every((s) => s.ms! > 0));
    const printed = await cli('report');
    assert.equal(printed.code, 0, printed.stderr);
    assert.match(printed.stdout, /RTO/);
    assert.match(printed.stdout, /RPO/);
    assert.match(printed.stdout, /alice/);
    await secretScan(report.stages[0]!.attempts[0]!.summary ?? '');

    // docs/full-disaster-recovery.md's example report comes from here (the VictoriaLogs run).
    if (logStore !== victoriaLogs) return;
    mkdirSync(path.join(repoRoot, 'test-artifacts', 'full-disaster'), { recursive: true });
    writeFileSync(path.join(repoRoot, 'test-artifacts', 'full-disaster', 'report.md'), printed.stdout);
  });

  /**
   * Every history this run wrote (modules, config, backup, log shipping, the recovery and its
   * stages, with sign-offs, a crash and retries), read raw without the codec: no marker of what
   * Titan handles appears, and every payload is `binary/encrypted`; backup ids only in their search
   * attribute. With the stack's codec server the CLI reads the plaintext again.
   */
  async function secretScan(redisSummary: string) {
    const [backup] = (await stores(env)[0]!.list('main')).filter((e) => e.manifest);
    const manifest = backup!.manifest!;
    // Only namespaced keys (user:17, queue:jobs): a bare key such as the seeded stream 'events' is
    // also a word of the history JSON itself, so finding it would prove nothing.
    const sampled = (manifest.samples ?? []).map((s) => Buffer.from(s.key, 'base64').toString('utf8')).filter((k) => k.includes(':'));
    assert.ok(sampled.length > 0, 'the manifest samples key names');
    assert.ok(redisSummary.includes(manifest.id), 'the redis stage summary names the backup (decoded by the client)');
    const markers = [
      ...sampled,
      manifest.id,
      '127.0.0.1:5000/titan/module',
      redis.instance('TITAN_TEST_DISASTER_PASSWORD').url as string,
      redis.password,
      'alpha v1', 'app:mode',
      redis.dataDir, filesRoot,
    ];
    const scan = await scanTaskQueue(client, env.taskQueue, markers);
    assert.ok(scan.workflows >= 8 && scan.payloads > 100, `scanned ${scan.workflows} workflows, ${scan.payloads} payloads`);
    assert.deepEqual(scan.plaintext.map((p) => `${p.path}: ${p.encoding}`), [], 'every payload is binary/encrypted');
    assert.deepEqual(scan.leaks, [], 'no marker in any raw history');
    console.log(`      ${scan.leaks.length} plaintext occurrences of ${markers.length} known markers in the history after the full-disaster e2e (${scan.workflows} workflows, ${scan.payloads} payloads, all binary/encrypted)`);
    const shown = rawPayloads(JSON.parse(temporalCli('workflow', 'show', '--workflow-id', `titan-${env.environment}-recovery`, '--output', 'json', '--codec-endpoint', CODEC_ENDPOINT)));
    assert.deepEqual(shown.filter((p) => p.encoding === 'binary/encrypted'), [], 'with the codec endpoint every payload is decoded');
    const plaintext = shown.map((p) => p.text).join('\n');
    assert.ok(plaintext.includes(manifest.id) && plaintext.includes('digest checked'), 'with the codec endpoint the CLI shows the plaintext');
  }
});
