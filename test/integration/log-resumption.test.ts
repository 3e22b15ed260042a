// resumeLogs and `titan logs` on each of the stack's real log stores (VictoriaLogs, and OpenSearch
// through the Elasticsearch API), the same cases on both, and its real Docker engine: modules keep
// logging while the store is down; the backfill stores every line exactly once, also when run
// twice and when the worker dies in the middle; a window removed from the store is found and
// refilled; a store keeping logs too briefly is reported; the shipping schedule ships and is
// paused only while a resumption runs; a killed module's last lines survive its redeploy.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { ErrorType } from '../../src/lib/errors';
import type { ResumeLogsResult } from '../../src/workflows/log-resumption';
import { failureOf, stores } from '../helpers/backups';
import { titan } from '../helpers/cli';
import { composeFileFor, docker, emit, engineLines, startModule } from '../helpers/log-modules';
import { LOG_STORES } from '../helpers/log-stores';
import { dockerSocket, stackCtl, temporalClient, uniqueName } from '../helpers/stack';
import { type TestEnv, writeTestEnvironment } from '../helpers/titan-env';
import { until } from '../helpers/wait';
import { spawnWorker, startWorker } from '../helpers/worker';
import { moduleSection, writeModuleCompose } from '../helpers/module-compose';

const STARTUP = 1;

for (const logStore of LOG_STORES) describe(`resumeLogs on the real ${logStore.name} and Docker engine`, function () {
  const storedCounts = logStore.counts;
  let client: Client;
  const containers: string[] = [];

  before(async () => {
    client = await temporalClient();
  });
  after(async () => {
    for (const id of containers) await docker.getContainer(id).remove({ force: true }).catch(() => undefined);
    await client?.connection.close();
  });

  /** An environment whose modules are `modules`, each with a running container. */
  async function setUp(modules: string[], logging: Record<string, unknown> = {}, healthchecked: string[] = []) {
    const project = uniqueName('logs').toLowerCase();
    const env = writeTestEnvironment({
      redisUrl: 'redis://127.0.0.1:1', docker: { socketPath: dockerSocket },
      modules: moduleSection(composeFileFor(modules), project),
      logging: { store: logStore.section, ...logging },
    });
    const ids: Record<string, string> = {};
    for (const m of modules) containers.push((ids[m] = await startModule(project, m, { healthcheck: healthchecked.includes(m) })));
    // Each module first logs one line of its own ("module 1: serving on …").
    for (const id of Object.values(ids)) await until('the module started', async () => engineLines(id).length >= STARTUP || undefined);
    return { env, project, ids };
  }
  const resume = (env: TestEnv, args: Record<string, unknown> = {}): Promise<ResumeLogsResult> =>
    client.workflow.execute('resumeLogs', { taskQueue: env.taskQueue, workflowId: uniqueName('logs'), args: [args] });
  const ship = (env: TestEnv) => client.workflow.execute('shipLogs', { taskQueue: env.taskQueue, workflowId: uniqueName('ship'), args: [{}] });

  /** What the engine holds for the container (up to `until`), counted by the docker CLI, equals what the store holds: once each. */
  async function assertStoredOnce(env: TestEnv, module: string, container: string, until?: string) {
    const engine = engineLines(container, until).length;
    const stored = await storedCounts(env.environment, module, until);
    assert.equal(stored.lines, engine, `${module}: the store holds every line the engine has`);
    assert.equal(stored.distinct, stored.lines, `${module}: no line stored twice`);
    return engine;
  }

  it('modules log while the store is down; resumeLogs backfills every line once, and a second run stores nothing twice', async () => {
    // beta's health probe logs a line every half second: a module that never stops logging.
    const { env, ids } = await setUp(['alpha', 'beta'], {}, ['beta']);
    const worker = await startWorker(env);
    try {
      await emit(ids.alpha!, 'before', 30);
      await ship(env);
      assert.equal((await storedCounts(env.environment, 'alpha')).lines, STARTUP + 30, 'shipped before the outage');

      stackCtl('stop', logStore.service);
      try {
        await emit(ids.alpha!, 'outage', 200);
        await emit(ids.beta!, 'outage', 150);
      } finally {
        stackCtl('start', logStore.service);
      }
      const r = await resume(env);
      const alpha = r.modules.find((m) => m.module === 'alpha')!;
      assert.equal(alpha.checkpoint?.container, ids.alpha, 'alpha resumed from its checkpoint in the store');
      assert.equal(alpha.shipped.shipped, 200 + 1, 'the 200 outage lines and the canary');
      assert.equal(alpha.check.missing.length, 0);
      assert.equal(alpha.check.canaryFound, true);
      const beta = r.modules.find((m) => m.module === 'beta')!;
      assert.equal(beta.checkpoint?.container, ids.beta);
      assert.equal(beta.check.missing.length, 0);
      assert.equal(await assertStoredOnce(env, 'alpha', ids.alpha!), STARTUP + 30 + 200 + 1);
      // Up to its canary, the verified end: beta logged on while it was checked.
      assert.ok(await assertStoredOnce(env, 'beta', ids.beta!, beta.canary.time) > STARTUP + 150 + 1);
      for (const [m, label, n] of [['alpha', 'outage', 200], ['beta', 'outage', 150]] as const) {
        const found = await logStore.prefixed(env.environment, { module: m }, `${label} `);
        assert.deepEqual([found.n, found.texts], [n, n], `${m}: ${n} outage lines, each once`);
      }

      const again = await resume(env, { since: new Date(Date.now() - 3_600_000).toISOString() });
      const alpha2 = again.modules.find((m) => m.module === 'alpha')!;
      assert.equal(alpha2.shipped.shipped, 1, 'only the new canary is sent');
      assert.equal(alpha2.shipped.alreadyStored, STARTUP + 30 + 200 + 1, 'every earlier line was found by id');
      await assertStoredOnce(env, 'alpha', ids.alpha!);
      await assertStoredOnce(env, 'beta', ids.beta!, again.modules.find((m) => m.module === 'beta')!.canary.time);
    } finally {
      await worker.stop();
    }
  });

  it('the worker SIGKILLed in the middle of a 200,000-line backfill: the retry completes with no line lost or doubled', async function () {
    // Not a speed target (bench:logs has those): room for a heartbeat timeout and 200,000 lines on a shared machine.
    this.timeout(600_000);
    const { env, ids } = await setUp(['bulk']);
    await emit(ids.bulk!, 'bulk', 200_000);
    let child: ChildProcess = spawnWorker(env);
    try {
      const handle = await client.workflow.start('resumeLogs', { taskQueue: env.taskQueue, workflowId: uniqueName('logs-kill'), args: [{}] });
      const partly = await until('part of the backfill stored', async () => {
        const n = (await storedCounts(env.environment, 'bulk')).lines;
        return n > 0 ? n : undefined;
      }, 120_000);
      child.kill('SIGKILL');
      await once(child, 'exit');
      assert.ok(partly < STARTUP + 200_000, `killed with ${partly} lines stored`);
      child = spawnWorker(env);
      const r: ResumeLogsResult = await handle.result();
      assert.equal(r.modules[0]!.check.missing.length, 0);
      assert.equal(await assertStoredOnce(env, 'bulk', ids.bulk!), STARTUP + 200_000 + 1);
      let attempts = 0;
      for (const e of (await handle.fetchHistory()).events ?? []) {
        if (e.activityTaskStartedEventAttributes) attempts = Math.max(attempts, e.activityTaskStartedEventAttributes.attempt ?? 0);
      }
      assert.ok(attempts >= 2, 'the interrupted backfill was retried');
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  });

  it('a window removed from the store: `titan logs status` names it exactly; `titan logs resume --since` refills it', async () => {
    const { env, ids } = await setUp(['alpha']);
    const worker = await startWorker(env);
    try {
      await emit(ids.alpha!, 'req', 100);
      await ship(env);
      await emit(ids.alpha!, 'later', 5); // the checkpoint lies after the removed window
      await ship(env);
      const window = engineLines(ids.alpha!).filter((l) => /^req (4|5|6|7)\d$/.test(l.text));
      assert.equal(window.length, 40);
      await logStore.deleteMatching(env.environment, 'alpha', 'req (4|5|6|7)[0-9]');

      const status = await titan(['--config', env.file, 'logs', 'status', '--since', '1h']);
      assert.equal(status.code, 2, status.stdout + status.stderr);
      const [first, last] = [window[0]!.time, window.at(-1)!.time].map(toNine);
      assert.match(status.stdout, new RegExp(`alpha: 40 line\\(s\\) missing from ${escape(first!)} to ${escape(last!)}`));

      const resumed = await titan(['--config', env.file, '--json', 'logs', 'resume', '--since', first!]);
      assert.equal(resumed.code, 0, resumed.stderr);
      const r = JSON.parse(resumed.stdout) as ResumeLogsResult;
      assert.equal(r.modules[0]!.shipped.shipped, 40 + 1, 'the 40 removed lines and the canary');
      assert.equal((await titan(['--config', env.file, 'logs', 'status'])).code, 0);
      await assertStoredOnce(env, 'alpha', ids.alpha!);
    } finally {
      await worker.stop();
    }
  });

  it('a store that keeps logs 7 days is reported against the plan\'s 30, by status and by resumeLogs', async () => {
    const store = await logStore.sevenDayStore();
    try {
      const { env } = await setUp(['alpha'], { store: store.section });
      const status = await titan(['--config', env.file, 'logs', 'status']);
      assert.equal(status.code, 2);
      assert.match(status.stdout, /keeps 7 days of logs; the plan asks for at least 30/);
      const worker = await startWorker(env);
      try {
        const f = await failureOf(resume(env));
        assert.equal(f.type, ErrorType.LogVerificationFailed);
        assert.match(f.message, /keeps 7 days of logs; the plan asks for at least 30/);
      } finally {
        await worker.stop();
      }
    } finally {
      await store.close();
    }
  });

  it('the shipping schedule ships new lines; resumeLogs pauses it while it runs and leaves it running', async () => {
    const { env, ids } = await setUp(['alpha'], { shipEvery: '2s' });
    const worker = await startWorker(env);
    const scheduleId = `titan-${env.environment}-log-shipping`;
    try {
      const applied = await titan(['--config', env.file, '--json', 'schedules', 'apply']);
      assert.equal(applied.code, 0, applied.stderr);
      assert.deepEqual(JSON.parse(applied.stdout).created, [scheduleId]);
      await emit(ids.alpha!, 'scheduled', 30);
      await until('the schedule shipped the 30 lines', async () => ((await storedCounts(env.environment, 'alpha')).lines === STARTUP + 30 ? true : undefined));

      const handle = await client.workflow.start('resumeLogs', { taskQueue: env.taskQueue, workflowId: uniqueName('logs'), args: [{}] });
      const pausedDuring = await until('the schedule paused by resumeLogs', async () => ((await client.schedule.getHandle(scheduleId).describe()).state.paused ? true : undefined), 30_000);
      await handle.result();
      assert.equal(pausedDuring, true);
      const after = await client.schedule.getHandle(scheduleId).describe();
      assert.equal(after.state.paused, false, 'running again afterwards');
      await assertStoredOnce(env, 'alpha', ids.alpha!);
    } finally {
      await client.schedule.getHandle(scheduleId).delete().catch(() => undefined);
      await worker.stop();
    }
  });

  it('a killed module redeployed by restoreModules: the replaced container\'s log is spooled, its last lines shipped once, the spool dropped', async () => {
    const project = uniqueName('spool').toLowerCase();
    const composeFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'titan-spool-')), 'docker-compose.yml');
    await writeModuleCompose(composeFile, ['alpha']);
    const env = writeTestEnvironment({
      redisUrl: 'redis://127.0.0.1:1', docker: { socketPath: dockerSocket },
      modules: moduleSection(composeFile, project, { stopTimeout: '2s', healthDeadline: '20s' }),
      logging: { store: logStore.section },
    });
    const worker = await startWorker(env);
    const redeploy = () => client.workflow.execute('restoreModules', { taskQueue: env.taskQueue, workflowId: uniqueName('modules'), args: [{}] });
    const spooled = async () => (await stores(env)[0]!.listKeys(`${env.prefix}_log-spool/${project}/alpha/`)).map((o) => o.key);
    try {
      await redeploy();
      const [old] = await docker.listContainers({ filters: { label: [`com.docker.compose.project=${project}`] } });
      containers.push(old!.Id);
      await ship(env);
      await emit(old!.Id, 'last-words', 50); // after the last shipment: only the engine has them
      await docker.getContainer(old!.Id).kill();
      await redeploy();
      await assert.rejects(docker.getContainer(old!.Id).inspect(), /no such container/i, 'the redeploy removed the dead container');
      assert.deepEqual(await spooled(), [`${env.prefix}_log-spool/${project}/alpha/${old!.Id}.ndjson`]);

      const r = await resume(env);
      assert.deepEqual(r.warnings, [], 'nothing lost');
      const found = await logStore.prefixed(env.environment, { container: old!.Id }, 'last-words ');
      assert.deepEqual([found.n, found.ids], [50, 50], 'the dead container\'s last lines, once each');
      assert.deepEqual(await spooled(), [], 'dropped once verified');
    } finally {
      await worker.stop();
      for (const c of await docker.listContainers({ all: true, filters: { label: [`com.docker.compose.project=${project}`] } })) await docker.getContainer(c.Id).remove({ force: true });
    }
  });

  it('the container that wrote the last shipped line was removed: a warning names it and the checkpoint', async () => {
    const { env, project, ids } = await setUp(['alpha']);
    const worker = await startWorker(env);
    try {
      await emit(ids.alpha!, 'old', 10);
      await ship(env);
      await docker.getContainer(ids.alpha!).remove({ force: true });
      containers.push(await startModule(project, 'alpha'));
      const r = await resume(env);
      assert.equal(r.warnings.length, 1);
      assert.match(r.warnings[0]!, new RegExp(`alpha: container ${ids.alpha!.slice(0, 12)}, which wrote the last shipped line \\(.+\\), no longer exists`));
    } finally {
      await worker.stop();
    }
  });
});

/** The docker CLI's timestamps trimmed of trailing zeros, as Titan prints them (nine digits). */
const toNine = (t: string) => t.replace(/\.(\d+)Z$/, (_, f: string) => `.${f.padEnd(9, '0')}Z`);
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
