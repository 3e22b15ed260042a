// `titan schedules apply` against the real dev server: the schedules exist for the temporal CLI,
// carry the policies, converge on re-apply, and a triggered run produces a valid backup.
import assert from 'node:assert/strict';
import { type Client, ScheduleOverlapPolicy } from '@temporalio/client';
import { verifyStoredBackup } from '../../src/infra/backup-verify';
import { stores } from '../helpers/backups';
import { titan } from '../helpers/cli';
import { type RedisServer, startRedisServer } from '../helpers/redis-server';
import { temporalCli, temporalClient } from '../helpers/stack';
import { type TestEnv, writeTestEnvironment } from '../helpers/titan-env';
import { startWorker } from '../helpers/worker';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('backup schedules', function () {
  let redis: RedisServer;
  let client: Client;
  let env: TestEnv;
  let worker: { stop(): Promise<void> };
  const cliEnv = () => ({ TITAN_TEST_REDIS_PASSWORD: redis.password });

  before(async () => {
    redis = await startRedisServer();
    process.env.TITAN_TEST_REDIS_PASSWORD = redis.password;
    await redis.client().set('scheduled', 'yes');
    env = writeTestEnvironment({
      redisUrl: redis.url,
      redisPasswordEnv: 'TITAN_TEST_REDIS_PASSWORD',
      schedules: {
        hourly: { cron: '7 * * * *', retentionClass: 'hourly', redis: 'main' },
        daily: { cron: '30 2 * * *', retentionClass: 'daily', redis: 'main' },
      },
    });
    worker = await startWorker(env);
    client = await temporalClient();
  });
  after(async () => {
    for (const name of ['hourly', 'daily']) await client.schedule.getHandle(`titan-${env.environment}-backup-${name}`).delete().catch(() => undefined);
    await worker?.stop();
    await client?.connection.close();
    await redis?.stop();
  });

  const ids = () => ['daily', 'hourly'].map((n) => `titan-${env.environment}-backup-${n}`);

  it('apply creates the schedules, which `temporal schedule list` shows, with overlap SKIP and a catch-up window', async () => {
    const run = await titan(['--config', env.file, '--json', 'schedules', 'apply'], cliEnv());
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), { created: ids().reverse(), updated: [], deleted: [] });
    let listed = '';
    for (let i = 0; i < 50 && !ids().every((id) => listed.includes(id)); i++) {
      listed = temporalCli('schedule', 'list');
      await sleep(200);
    }
    for (const id of ids()) assert.ok(listed.includes(id), `temporal schedule list shows ${id}:\n${listed}`);
    const d = await client.schedule.getHandle(ids()[0]!).describe();
    assert.equal(d.policies.overlap, ScheduleOverlapPolicy.SKIP);
    assert.equal(d.policies.catchupWindow, 3_600_000);
    assert.equal(d.action.type, 'startWorkflow');
    assert.deepEqual(d.action.type === 'startWorkflow' && d.action.args, [{ redis: 'main', retentionClass: 'daily' }]);
  });

  it('apply again updates in place; list shows both', async () => {
    const run = await titan(['--config', env.file, '--json', 'schedules', 'apply'], cliEnv());
    assert.deepEqual(JSON.parse(run.stdout), { created: [], updated: ids().reverse(), deleted: [] });
    let rows: { id: string; note: string }[] = [];
    for (let i = 0; i < 50 && rows.length < 2; i++) {
      rows = JSON.parse((await titan(['--config', env.file, '--json', 'schedules', 'list'], cliEnv())).stdout);
      await sleep(200);
    }
    assert.deepEqual(rows.map((r) => r.id), ids());
    assert.match(rows[1]!.note, /hourly backup of Redis main: cron "7 \* \* \* \*"/);
  });

  it('triggering a schedule produces a valid backup', async () => {
    temporalCli('schedule', 'trigger', '--schedule-id', ids()[0]!);
    let started;
    for (let i = 0; i < 100 && !started; i++) {
      for await (const w of client.workflow.list({ query: `TitanEnvironment = "${env.environment}" AND TitanKind = "backup"` })) started = w;
      if (!started) await sleep(200);
    }
    assert.ok(started, 'the schedule started a backup workflow');
    assert.ok(started.workflowId.startsWith(ids()[0]!));
    const result = await client.workflow.getHandle(started.workflowId).result();
    const [primary] = stores(env);
    assert.equal((await verifyStoredBackup(primary!, 'main', result.backupId)).valid, true);
    assert.equal((await primary!.readManifest('main', result.backupId))?.retentionClass, 'daily');
  });
});
