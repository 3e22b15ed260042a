// Restores and backups of Redis set up as production runs it, on the real stack: a Redis that
// daemonizes itself, one a service manager starts and stops, one reachable only over TLS, and a
// primary backed up from its replica so that it never forks.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { ErrorType } from '../../src/lib/errors';
import { failureOf, runBackup, runRestore, seedDataset, sha256, stores } from '../helpers/backups';
import { datasetDigest } from '../helpers/dataset';
import { type ManagedRedis, type ManagedRedisOptions, startManagedRedis } from '../helpers/managed-redis';
import { lastFailureOf } from '../helpers/payloads';
import { temporalClient } from '../helpers/stack';
import { type TestEnv, writeTestEnvironment } from '../helpers/titan-env';
import { sleep } from '../helpers/wait';
import { startWorker } from '../helpers/worker';

describe('Redis as production runs it (real stack)', function () {
  let client: Client;
  before(async () => {
    client = await temporalClient();
  });
  after(async () => {
    await client?.connection.close();
  });

  /** A seeded Redis `main` with the given shape, its environment (runAs and TLS from `instance`) and a worker. */
  function setup(opts: ManagedRedisOptions, instance: (r: ManagedRedis) => Record<string, unknown> = (r) => r.instance('TITAN_TEST_PROD_PASSWORD')) {
    const ctx = {} as { prod: ManagedRedis; env: TestEnv; worker: { stop(): Promise<void> } };
    before(async () => {
      ctx.prod = await startManagedRedis(opts);
      process.env.TITAN_TEST_PROD_PASSWORD = ctx.prod.password;
      ctx.env = writeTestEnvironment({ instances: { main: instance(ctx.prod) } });
      ctx.worker = await startWorker(ctx.env);
      await seedDataset(ctx.prod.client);
    });
    after(async () => {
      await ctx.worker?.stop();
      await ctx.prod?.stop();
    });
    return ctx;
  }

  /** Backup, disaster (every database emptied without a save, garbage written), restore, and the checks of any restore. */
  async function backupDisasterRestore(ctx: { prod: ManagedRedis; env: TestEnv }) {
    const { prod, env } = ctx;
    const backup = await runBackup(client, env);
    const expected = await datasetDigest(prod.client);
    for (const db of [0, 1, 7]) await prod.client(db).flushdb(); // FLUSHALL would save with save points set
    await prod.client(3).set('garbage', 'written after the disaster');
    const r = await runRestore(client, env, { redis: 'main' });
    assert.equal(r.backup.backupId, backup.backupId);
    assert.deepEqual(r.verification.problems, []);
    assert.ok(r.verification.samplesChecked >= 20);
    assert.equal(r.verification.probe, true);
    assert.deepEqual(await datasetDigest(prod.client), expected, 'every key, value and TTL is back');
    return { backup, restore: r };
  }

  describe('a Redis that daemonizes itself (daemonize yes, pidfile)', function () {
    const ctx = setup({ daemonize: true });

    it('restores: Titan waits for the daemon to write its pid file instead of calling it exited', async () => {
      const oldPid = Number(readFileSync(ctx.prod.pidFile, 'utf8'));
      await backupDisasterRestore(ctx);
      const newPid = Number(readFileSync(ctx.prod.pidFile, 'utf8'));
      assert.notEqual(newPid, oldPid, 'Redis was restarted');
      assert.match(await ctx.prod.client().info('server'), new RegExp(`process_id:${newPid}\\r`), 'the pid file names the daemon that serves the URL');
    });
  });

  describe('a Redis managed by a service manager (runAs.commands)', function () {
    // A service manager in miniature, as systemctl is for Debian's redis-server unit: start runs the
    // daemonizing redis-server, stop sends SIGTERM (which saves, with save points set), status checks.
    let ctl: string;
    const ctx = setup({ daemonize: true, save: '3600 1' }, (r) => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'titan-redisctl-'));
      ctl = path.join(dir, 'redisctl');
      writeFileSync(ctl, [
        '#!/bin/sh',
        `conf='${r.configFile}'; pidfile='${r.pidFile}'`,
        'case "$1" in',
        '  start) exec redis-server "$conf" ;;',
        '  stop) pid=$(cat "$pidfile") && kill -TERM "$pid" && while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done ;;',
        '  status) [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null ;;',
        '  *) exit 2 ;;',
        'esac',
        '',
      ].join('\n'));
      chmodSync(ctl, 0o755);
      const { runAs: _, ...rest } = r.instance('TITAN_TEST_PROD_PASSWORD');
      return { ...rest, runAs: { commands: { stop: `${ctl} stop`, start: `${ctl} start`, check: `${ctl} status` } } };
    });
    after(() => rmSync(path.dirname(ctl), { recursive: true, force: true }));

    it('restores through the stop and start commands, and the SIGTERM stop saves nothing over the previous files', async () => {
      await ctx.prod.client().save();
      const previous = sha256(readFileSync(path.join(ctx.prod.dataDir, 'dump.rdb')));
      const runIdBefore = await ctx.prod.runId();
      const { restore } = await backupDisasterRestore(ctx);
      assert.notEqual(await ctx.prod.runId(), runIdBefore, 'Redis was stopped and started');
      // Had the stop saved, the rollback copy would hold the emptied databases and the garbage key.
      assert.equal(sha256(readFileSync(path.join(restore.rollbackDir, 'dump.rdb'))), previous, 'the files a rollback needs are the ones saved before the disaster');
      assert.deepEqual((await ctx.prod.client().config('GET', 'save')) as string[], ['save', '3600 1'], 'the restarted Redis runs with its own configuration again');
    });

    it('without a check command, "running" is "answers at its URL": the restore still stops, starts and verifies it', async () => {
      const { runAs, ...rest } = ctx.env.loaded.env.redis.main!;
      const { check: _, ...commands } = (runAs as { commands: { stop: string; start: string; check?: string } }).commands;
      const env = writeTestEnvironment({ instances: { main: { ...rest, runAs: { commands } } } });
      const w = await startWorker(env);
      try {
        const runIdBefore = await ctx.prod.runId();
        await backupDisasterRestore({ prod: ctx.prod, env });
        assert.notEqual(await ctx.prod.runId(), runIdBefore, 'Redis was stopped and started');
      } finally {
        await w.stop();
      }
    });

    it('a Redis that refuses CONFIG SET is not stopped: the stop command could save', async () => {
      const guarded = await startManagedRedis({ daemonize: true, save: '3600 1', extra: ['rename-command CONFIG ""'] });
      try {
        process.env.TITAN_TEST_GUARDED_PASSWORD = guarded.password;
        const { runAs: _, ...rest } = guarded.instance('TITAN_TEST_GUARDED_PASSWORD');
        const env = writeTestEnvironment({ instances: { main: { ...rest, runAs: { commands: { stop: `kill -TERM $(cat ${guarded.pidFile})`, start: `redis-server ${guarded.configFile}` } } } } });
        const w = await startWorker(env);
        try {
          await guarded.client().set('k', 'v');
          await runBackup(client, env);
          const runIdBefore = await guarded.runId();
          const f = await failureOf(runRestore(client, env, { redis: 'main' }));
          assert.equal(f.type, ErrorType.RedisStopFailed);
          assert.match(f.message, /not stopped, since a stop by "kill -TERM .*" could save .*CONFIG SET save "" was refused/);
          assert.equal(await guarded.runId(), runIdBefore, 'still the same process');
        } finally {
          await w.stop();
        }
      } finally {
        await guarded.stop();
      }
    });
  });

  describe('a Redis reachable only over TLS (rediss:// with a CA file and a client certificate)', function () {
    const ctx = setup({ tls: true });

    it('backs up over the TLS replication stream, restores and verifies over TLS', async () => {
      assert.match(ctx.prod.url, /^rediss:\/\//);
      const { backup } = await backupDisasterRestore(ctx);
      const [primary] = stores(ctx.env);
      const manifest = (await primary!.readManifest('main', backup.backupId))!;
      assert.equal(manifest.source.address, new URL(ctx.prod.url).host);
    });

    it('without the CA file the certificate is refused, and nothing is stored', async () => {
      const { tls: _, ...rest } = ctx.prod.instance('TITAN_TEST_PROD_PASSWORD');
      const env = writeTestEnvironment({ instances: { main: rest } });
      const w = await startWorker(env);
      const handle = await client.workflow.start('redisBackup', { taskQueue: env.taskQueue, workflowId: `${env.environment}-no-ca`, args: [{ redis: 'main', retentionClass: 'daily' }] });
      try {
        let failure: string | undefined;
        for (const end = Date.now() + 30_000; !failure && Date.now() < end; await sleep(500)) {
          failure = await lastFailureOf(client, (await handle.describe()).raw.pendingActivities?.find((a) => a.lastFailure));
        }
        assert.match(failure ?? 'no failure', /certificate/, 'the snapshot attempt fails on the certificate');
        assert.deepEqual((await stores(env)[0]!.list('main')).filter((e) => !e.problem), [], 'no backup stored');
      } finally {
        await handle.terminate('test over');
        await w.stop();
      }
    });
  });

  describe('backups taken from a replica (backups.schedules.<id>.from)', function () {
    const ctx = {} as { primary: ManagedRedis; replica: ManagedRedis; env: TestEnv; worker: { stop(): Promise<void> } };
    before(async () => {
      ctx.primary = await startManagedRedis();
      await seedDataset(ctx.primary.client);
      ctx.replica = await startManagedRedis({ replicaOf: ctx.primary });
      process.env.TITAN_TEST_PROD_PASSWORD = ctx.primary.password;
      process.env.TITAN_TEST_REPLICA_PASSWORD = ctx.replica.password;
      ctx.env = writeTestEnvironment({
        instances: { main: ctx.primary.instance('TITAN_TEST_PROD_PASSWORD'), replica: ctx.replica.instance('TITAN_TEST_REPLICA_PASSWORD') },
        schedules: { hourly: { cron: '0 * * * *', retentionClass: 'hourly', redis: 'main', from: 'replica' } },
      });
      ctx.worker = await startWorker(ctx.env);
      await inSync(ctx.primary, ctx.replica);
    });
    after(async () => {
      await ctx.worker?.stop();
      await ctx.replica?.stop();
      await ctx.primary?.stop();
    });

    it('the backup forks only the replica; the manifest names both; the restore targets the primary and is verified', async () => {
      const { primary, replica, env } = ctx;
      const schedule = env.loaded.env.backups.schedules.hourly!;
      const forks = { primary: await primary.forks(), replica: await replica.forks() };
      const backup = await runBackup(client, env, 'daily', schedule.from);
      assert.equal(await primary.forks(), forks.primary, 'the primary did not fork');
      assert.equal(await replica.forks(), forks.replica + 1, 'the replica forked once, for the snapshot');
      const manifest = (await stores(env)[0]!.readManifest('main', backup.backupId))!;
      assert.deepEqual({ source: manifest.source, primary: manifest.primary }, {
        source: { redis: 'replica', address: new URL(replica.url).host },
        primary: { redis: 'main', address: new URL(primary.url).host },
      });

      const expected = await datasetDigest(primary.client);
      await primary.client().flushall();
      await primary.client(3).set('garbage', 'written after the disaster');
      const r = await runRestore(client, env, { redis: 'main' });
      assert.equal(r.target, 'main');
      assert.equal(r.backup.backupId, backup.backupId);
      assert.deepEqual(r.verification.problems, []);
      assert.deepEqual(await datasetDigest(primary.client), expected);
      await inSync(primary, replica);
      assert.deepEqual(await datasetDigest(replica.client), expected, 'the replica follows the restored primary');
    });

    it('a backup "from" a Redis that does not replicate the primary is refused before it forks', async () => {
      const { primary, env } = ctx;
      const forks = await primary.forks();
      const f = await failureOf(client.workflow.execute('redisBackup', { taskQueue: env.taskQueue, workflowId: `${env.environment}-from-primary-${Date.now()}`, args: [{ redis: 'replica', retentionClass: 'daily', from: 'main' }] }));
      assert.equal(f.type, ErrorType.ConfigInvalid);
      assert.match(f.message, /Redis main is not a replica \(role master\)/);
      assert.equal(await primary.forks(), forks);
    });
  });
});

/** Until the replica's link is up and it holds what the primary holds. */
async function inSync(primary: ManagedRedis, replica: ManagedRedis): Promise<void> {
  for (const end = Date.now() + 60_000; ; await sleep(200)) {
    const info = await replica.client().info('replication').catch(() => '');
    // avg_ttl is an estimate each side makes for itself; the counts must agree.
    const counts = (info: string) => info.replace(/,avg_ttl=\d+/g, '');
    const [a, b] = await Promise.all([primary.client().info('keyspace').then(counts), replica.client().info('keyspace').then(counts).catch(() => '')]);
    if (/master_link_status:up/.test(info) && a === b) return;
    if (Date.now() > end) throw new Error(`replica not in sync: ${info}`);
  }
}
