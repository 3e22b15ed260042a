// redisRestore against the real stack: backups taken by redisBackup, restored into real
// redis-servers that the restore stops and starts itself, compared key by key.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { ErrorType } from '../../src/lib/errors';
import { deriveBackup, failureOf, readObject, runBackup, runRestore, seedDataset, sha256, stores } from '../helpers/backups';
import { datasetDigest } from '../helpers/dataset';
import { type ManagedRedis, startManagedRedis } from '../helpers/managed-redis';
import { temporalClient } from '../helpers/stack';
import { type TestEnv, writeTestEnvironment } from '../helpers/titan-env';
import { sleep } from '../helpers/wait';
import { startWorker } from '../helpers/worker';
import { titan } from '../helpers/cli';

describe('redisRestore on the real stack', function () {
  let client: Client;
  before(async () => {
    client = await temporalClient();
  });
  after(async () => {
    await client?.connection.close();
  });

  /** A Redis (and a drill Redis) with their own environment and in-process worker. */
  function setup(opts: { appendonly?: boolean } = {}) {
    const ctx = {} as { prod: ManagedRedis; drill: ManagedRedis; env: TestEnv; worker: { stop(): Promise<void> } };
    before(async () => {
      ctx.prod = await startManagedRedis(opts);
      ctx.drill = await startManagedRedis();
      process.env.TITAN_TEST_PROD_PASSWORD = ctx.prod.password;
      process.env.TITAN_TEST_DRILL_PASSWORD = ctx.drill.password;
      ctx.env = writeTestEnvironment({ instances: { main: ctx.prod.instance('TITAN_TEST_PROD_PASSWORD'), drill: ctx.drill.instance('TITAN_TEST_DRILL_PASSWORD') } });
      ctx.worker = await startWorker(ctx.env);
      await seedDataset(ctx.prod.client);
    });
    after(async () => {
      await ctx.worker?.stop();
      await ctx.prod?.stop();
      await ctx.drill?.stop();
    });
    return ctx;
  }

  describe('RDB persistence', function () {
    const ctx = setup();

    it('the data destroyed → restores the latest backup: every key, value and TTL back, keys expired since the snapshot explained', async () => {
      const { prod, env } = ctx;
      const db2 = prod.client(2);
      for (let i = 0; i < 5; i++) await db2.set(`ephemeral:${i}`, 'x', 'PX', 1500);
      const backup = await runBackup(client, env);
      await sleep(1600); // the ephemeral keys expire after the snapshot, before the restore
      const expected = await datasetDigest(prod.client);
      await prod.client().flushall();
      await prod.client(3).set('garbage', 'written after the disaster');

      const r = await runRestore(client, env, { redis: 'main' });
      assert.equal(r.backup.backupId, backup.backupId);
      assert.deepEqual(await datasetDigest(prod.client), expected);
      assert.deepEqual(r.verification.problems, []);
      assert.equal(r.verification.counts?.['2']?.expiredSince, 5, 'the five keys that expired since the snapshot are accounted for');
      assert.ok(r.verification.samplesChecked >= 20, `${r.verification.samplesChecked} sampled keys checked`);
      assert.equal(r.verification.probe, true);
      assert.deepEqual(r.steps.map((s) => s.step), ['inspect target', 'list backups', 'download and verify', 'stop Redis', 'replace data', 'start Redis', 'verify']);
      const placed = path.join(prod.dataDir, 'dump.rdb');
      assert.equal(sha256(readFileSync(placed)), backup.sha256, 'dump.rdb is the backup, byte for byte');
      assert.equal(statSync(placed).mode & 0o777, 0o600);
      assert.equal(existsSync(path.join(prod.dataDir, '.titan-restore')), false, 'staged files removed');
    });

    it('--target restores into another Redis and leaves production untouched', async () => {
      const { prod, drill, env } = ctx;
      const latest = await runBackup(client, env);
      await prod.client().set('written-after-backup', 'only in production');
      const prodBefore = { digest: await datasetDigest(prod.client), runId: await prod.runId() };

      const r = await runRestore(client, env, { redis: 'main', target: 'drill' });
      assert.equal(r.target, 'drill');
      assert.equal(r.backup.backupId, latest.backupId);
      assert.deepEqual({ digest: await datasetDigest(prod.client), runId: await prod.runId() }, prodBefore, 'production neither restarted nor changed');
      const drillData = await datasetDigest(drill.client);
      await prod.client().del('written-after-backup');
      assert.deepEqual(drillData, await datasetDigest(prod.client), 'the drill Redis holds the backup');
    });

    it('an environment file that points the restore at the wrong process or directory is refused; nothing is touched', async () => {
      const { prod, drill } = ctx;
      const ids = async () => [await prod.runId(), await drill.runId()];
      const before = await ids();
      const wrongPid = writeTestEnvironment({ instances: { main: { ...prod.instance('TITAN_TEST_PROD_PASSWORD'), runAs: { process: { pidFile: drill.pidFile, configFile: prod.configFile } } } } });
      const wrongDir = writeTestEnvironment({ instances: { main: { ...prod.instance('TITAN_TEST_PROD_PASSWORD'), dataDir: drill.dataDir } } });
      for (const [e, message] of [[wrongPid, /is process \d+, but the pid file names \d+/], [wrongDir, /dataDir is .*, but Redis keeps its files in /]] as const) {
        const w = await startWorker(e);
        try {
          const f = await failureOf(runRestore(client, e, { redis: 'main', backupId: 'irrelevant' }));
          assert.equal(f.type, ErrorType.ConfigInvalid);
          assert.match(f.message, message);
        } finally {
          await w.stop();
        }
      }
      assert.deepEqual(await ids(), before, 'neither Redis was stopped');
    });

    it('a verification failure rolls back: the previous data is served again and the failure says what did not match', async () => {
      const { prod, env } = ctx;
      const [primary] = stores(env);
      const good = (await primary!.readManifest('main', (await runBackup(client, env)).backupId))!;
      const sample = good.samples!.find((s) => s.sha256)!;
      // A backup whose bytes are intact but whose recorded value digest disagrees with them.
      const tampered = await deriveBackup(primary!, good, 60, (body, m) => ({
        body, manifest: { ...m, samples: m.samples!.map((s) => (s.key === sample.key && s.db === sample.db ? { ...s, sha256: '0'.repeat(64) } : s)) },
      }));
      await prod.client().set('state-before-the-attempt', 'must survive');
      await prod.client().save(); // the previous data directory is what a rollback puts back
      const before = await datasetDigest(prod.client);
      const runIdBefore = await prod.runId();

      const f = await failureOf(runRestore(client, env, { redis: 'main', backupId: tampered }));
      assert.equal(f.type, ErrorType.RestoreVerificationFailed);
      assert.match(f.message, new RegExp(`db${sample.db} key .* has a different value than in the snapshot`));
      assert.match(f.message, /previous data is back/);
      assert.deepEqual(await datasetDigest(prod.client), before, 'the old data is served again');
      assert.notEqual(await prod.runId(), runIdBefore, 'Redis was restarted on its previous data');
      const rollbacks = readdirSync(path.join(prod.dataDir, '.titan-rollback'));
      assert.ok(rollbacks.some((d) => existsSync(path.join(prod.dataDir, '.titan-rollback', d, 'failed', 'dump.rdb'))), 'the rejected data is kept for inspection');
    });
  });

  describe('titan restore', function () {
    const ctx = setup();

    it('asks for confirmation: without --yes and no terminal it refuses, and Redis is untouched', async () => {
      const runId = await ctx.prod.runId();
      const run = await titan(['--config', ctx.env.file, 'restore']);
      assert.equal(run.code, 1);
      assert.match(run.stderr, /^titan: refusing to restore without confirmation: pass --yes \(Restore the latest valid backup of Redis main into Redis main .*\)\n$/);
      assert.equal(await ctx.prod.runId(), runId);
    });

    it('bad input is one line naming it', async () => {
      for (const [args, message] of [
        [['--before', 'yesterday-ish'], /--before "yesterday-ish" is not a date and time/],
        [['--target', 'nowhere'], /no Redis instance named "nowhere"/],
        [['--backup', 'x', '--before', '2026-01-01T00:00:00Z'], /--backup and --before exclude each other/],
      ] as const) {
        const run = await titan(['--config', ctx.env.file, 'restore', '--yes', ...args]);
        assert.equal(run.code, 1);
        assert.match(run.stderr, message);
        assert.equal(run.stderr.split('\n').length, 2, 'one line');
      }
    });

    it('--yes --json restores and prints what it restored and how long each step took; a second restore of the same Redis is refused', async () => {
      const backup = await runBackup(client, ctx.env);
      const expected = await datasetDigest(ctx.prod.client);
      await ctx.prod.client().flushall();
      const run = await titan(['--config', ctx.env.file, '--json', 'restore', '--yes']);
      assert.equal(run.code, 0, run.stderr);
      const out = JSON.parse(run.stdout);
      assert.equal(out.backup.backupId, backup.backupId);
      assert.equal(out.steps.length, 7);
      assert.ok(out.steps.every((s: { ms: number }) => s.ms >= 0));
      assert.deepEqual(await datasetDigest(ctx.prod.client), expected);

      // A restore still running (on a queue nobody serves) holds the per-target workflow id.
      const running = await client.workflow.start('redisRestore', { taskQueue: `${ctx.env.taskQueue}-idle`, workflowId: `titan-${ctx.env.environment}-restore-main`, args: [{ redis: 'main' }] });
      try {
        const second = await titan(['--config', ctx.env.file, 'restore', '--yes']);
        assert.equal(second.code, 1);
        assert.equal(second.stderr, `titan: a restore into Redis main is already running (workflow titan-${ctx.env.environment}-restore-main)\n`);
      } finally {
        await running.terminate('test over');
      }
    });
  });

  describe('appendonly yes', function () {
    const ctx = setup({ appendonly: true });

    it('restores as the AOF base so the data loads, and survives a restart from disk', async () => {
      const { prod, env } = ctx;
      const backup = await runBackup(client, env);
      const expected = await datasetDigest(prod.client);
      await prod.client().flushall();

      const r = await runRestore(client, env, { redis: 'main' });
      assert.equal(r.backup.backupId, backup.backupId);
      assert.deepEqual(await datasetDigest(prod.client), expected);
      const aofDir = path.join(prod.dataDir, 'appendonlydir');
      assert.equal(readFileSync(path.join(aofDir, 'appendonly.aof.manifest'), 'utf8'), 'file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n');
      const [primary] = stores(env);
      assert.equal(sha256(readFileSync(path.join(aofDir, 'appendonly.aof.1.base.rdb'))), sha256(await readObject(primary!, primary!.keys('main', backup.backupId).object)));

      await prod.client().set('after-restore', 'kept by the AOF');
      await prod.restart();
      const after = await datasetDigest(prod.client);
      assert.equal(after.keys, expected.keys + 1, 'Redis reloads the restored data and later writes from its AOF');
    });
  });
});
