// Titan across two hosts on the real stack: two worker processes (TITAN_HOST=a and b) stand for
// two machines, each Redis instance with its own data directory on its own host. The history's
// ActivityTaskStarted identity proves which worker ran each host-bound activity.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { Client } from '@temporalio/client';
import { HOST_BOUND } from '../../src/activities/host';
import { onRedisHost } from '../../src/lib/hosts';
import { hostTaskQueue, WorkflowId } from '../../src/lib/names';
import type { RecoveryStatus } from '../../src/lib/recovery-report';
import { seedDataset } from '../helpers/backups';
import { titan } from '../helpers/cli';
import { datasetDigest } from '../helpers/dataset';
import { type ManagedRedis, startManagedRedis } from '../helpers/managed-redis';
import { temporalClient, uniqueName } from '../helpers/stack';
import { type TestEnv, writeTestEnvironment } from '../helpers/titan-env';
import { sleep, until } from '../helpers/wait';
import { spawnWorker } from '../helpers/worker';

describe('Titan across hosts (a worker per host)', function () {
  let client: Client;
  let cache: ManagedRedis;
  let sessions: ManagedRedis;
  const workers: ChildProcess[] = [];

  before(async () => {
    client = await temporalClient();
    cache = await startManagedRedis();
    sessions = await startManagedRedis();
    process.env.TITAN_TEST_CACHE_PASSWORD = cache.password;
    process.env.TITAN_TEST_SESSIONS_PASSWORD = sessions.password;
    await seedDataset(cache.client);
    await sessions.client().set('session:1', 'alice');
  });
  after(async () => {
    for (const w of workers) if (w.exitCode === null) { w.kill('SIGTERM'); await once(w, 'exit'); }
    await cache?.stop();
    await sessions?.stop();
    await client?.connection.close();
  });

  /** An environment with cache on host a and sessions on host b, both backed up, both then destroyed. */
  async function twoHostEnvironment(): Promise<TestEnv> {
    const env = writeTestEnvironment({
      hosts: { a: {}, b: {} },
      instances: {
        cache: { ...cache.instance('TITAN_TEST_CACHE_PASSWORD'), host: 'a' },
        sessions: { ...sessions.instance('TITAN_TEST_SESSIONS_PASSWORD'), host: 'b' },
      },
      recovery: { approvers: { default: ['alice'] }, stages: ['redis'], signOff: { remindAfter: '10m', escalateAfter: '20m' } },
    });
    return env;
  }

  const startHost = (env: TestEnv, host: string) => {
    const w = spawnWorker(env, { TITAN_HOST: host });
    workers.push(w);
    return w;
  };
  /** A backup as its schedule runs it (onHost: on the instance's host), or from any worker (the stream needs only the network). */
  const backUp = async (env: TestEnv, redis: string, onItsHost: boolean) => {
    const workflowId = uniqueName(`${env.environment}-backup-${redis}`);
    await client.workflow.execute('redisBackup', {
      taskQueue: env.taskQueue, workflowId, args: [{ redis, retentionClass: 'daily', ...(onItsHost ? onRedisHost(env.loaded.env, redis) : {}) }],
    });
    return workflowId;
  };
  const destroy = async () => {
    await cache.client().flushall();
    await sessions.client().flushall();
  };

  /** Host-bound activity type → identities of the workers that started it, from a workflow's history. */
  async function hostBoundIdentities(workflowId: string, hostBound: ReadonlySet<string> = HOST_BOUND): Promise<Map<string, Set<string>>> {
    const { events } = await client.workflow.getHandle(workflowId).fetchHistory();
    const typeOf = new Map<string, string>();
    const out = new Map<string, Set<string>>();
    for (const e of events ?? []) {
      const scheduled = e.activityTaskScheduledEventAttributes;
      if (scheduled) typeOf.set(String(e.eventId), scheduled.activityType!.name!);
      const started = e.activityTaskStartedEventAttributes;
      if (started) {
        const type = typeOf.get(String(started.scheduledEventId))!;
        if (hostBound.has(type)) out.set(type, (out.get(type) ?? new Set()).add(started.identity!));
      }
    }
    return out;
  }

  const signOff = (id: string) => client.workflow.getHandle(id).executeUpdate('signOff', { args: [{ stage: 'redis', decision: 'approve', by: 'alice' }] });
  const status = (id: string) => client.workflow.getHandle(id).query<RecoveryStatus>('recoveryStatus');

  it('a recovery restores both instances, each on its own host: every host-bound activity started by that host\'s worker, none by the other', async () => {
    const env = await twoHostEnvironment();
    const [a, b] = [startHost(env, 'a'), startHost(env, 'b')];
    const backups = { cache: await backUp(env, 'cache', true), sessions: await backUp(env, 'sessions', true) };
    const expected = await datasetDigest(cache.client);
    await destroy();

    const id = `${env.environment}-recovery`;
    const handle = await client.workflow.start('fullDisasterRecovery', { taskQueue: env.taskQueue, workflowId: id, args: [{}] });
    const waiting = await until('the redis stage to wait for its sign-off', async () => (await status(id)).waiting, 300_000);
    assert.equal(waiting.stage, 'redis');
    const summary = (await status(id)).stages[0]!.attempts[0]!.summary!;
    assert.match(summary, /^cache: restored .* into Redis cache and verified it; sessions: restored .* into Redis sessions and verified it$/);
    await signOff(id);
    await handle.result();
    assert.deepEqual(await datasetDigest(cache.client), expected);
    assert.equal(await sessions.client().get('session:1'), 'alice');

    const snapshot = new Set(['snapshotToPrimary']);
    assert.deepEqual([...(await hostBoundIdentities(backups.cache, snapshot)).get('snapshotToPrimary')!].map((i) => i.split('@')[0]), [String(a.pid)]);
    assert.deepEqual([...(await hostBoundIdentities(backups.sessions, snapshot)).get('snapshotToPrimary')!].map((i) => i.split('@')[0]), [String(b.pid)]);
    for (const [child, worker, other] of [[`${id}-redis-1-cache`, a, b], [`${id}-redis-1-sessions`, b, a]] as const) {
      const identities = await hostBoundIdentities(child);
      assert.ok(identities.has('stopRedis') && identities.has('replaceRedisData') && identities.has('verifyRestoredRedis'), `${child}: ${[...identities.keys()]}`);
      for (const [type, who] of identities) {
        assert.ok([...who].every((i) => i.startsWith(`${worker.pid}@`)), `${child} ${type} started by ${[...who]}, not by the worker of its host (pid ${worker.pid})`);
        assert.ok(![...who].some((i) => i.startsWith(`${other.pid}@`)));
      }
    }
  });

  it('host b\'s worker down: a\'s instance is restored, b\'s waits visibly, and runs by itself when b\'s worker starts 30 s later', async () => {
    const env = await twoHostEnvironment();
    startHost(env, 'a');
    await backUp(env, 'cache', true);
    // sessions is backed up by a's worker through the replication stream (network only).
    await backUp(env, 'sessions', false);
    await destroy();

    // The id `titan recover` gives it, so `titan status` finds it.
    const id = WorkflowId.recovery(env.loaded.env);
    const handle = await client.workflow.start('fullDisasterRecovery', { taskQueue: env.taskQueue, workflowId: id, args: [{}] });
    const message = `waiting for a worker on host b (queue ${hostTaskQueue(env.loaded.env, 'b')})`;
    assert.equal(message, `waiting for a worker on host b (queue titan-${env.environment}-host-b)`);
    const s = await until('the stage to say it waits for host b', async () => ((await status(id)).stages[0]!.waitingFor?.includes(message) ? status(id) : undefined), 180_000);
    assert.deepEqual(s.stages[0]!.waitingFor, [message]);
    await until('cache restored on host a', async () => (await client.workflow.getHandle(`${id}-redis-1-cache`).describe()).status.name === 'COMPLETED' || undefined, 180_000);
    assert.ok((await cache.client().dbsize()) > 0);
    assert.equal(await sessions.client().get('session:1'), null, 'nothing ran on host b');
    const meta = await client.workflow.getHandle(id).query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    assert.ok(meta.currentDetails?.includes(message), meta.currentDetails);
    const cli = await titan(['--config', env.file, 'status']);
    assert.ok(cli.stdout.includes(`stage redis: ${message}`), cli.stdout + cli.stderr);

    await sleep(30_000);
    startHost(env, 'b');
    const waiting = await until('the stage done and waiting for its sign-off', async () => (await status(id)).waiting, 300_000);
    const done = await status(id);
    assert.equal(done.stages[0]!.attempts.length, 1, 'no retry by a person');
    assert.equal(done.stages[0]!.waitingFor, undefined);
    assert.equal(waiting.decisions[0], 'approve');
    await signOff(id);
    await handle.result();
    assert.equal(await sessions.client().get('session:1'), 'alice');
  });

  it('a restore started without a host route (the Web UI\'s form) fails at once, naming the step, and leaves Redis as it was', async () => {
    const env = await twoHostEnvironment();
    startHost(env, 'a');
    await backUp(env, 'sessions', false);
    await sessions.client().set('session:untouched', 'yes');
    const err = await client.workflow.execute('redisRestore', { taskQueue: env.taskQueue, workflowId: uniqueName(`${env.environment}-restore-unrouted`), args: [{ redis: 'sessions' }] })
      .then(() => undefined, (e: Error) => e);
    assert.ok(err, 'the restore must fail');
    const cause = (err as { cause?: { cause?: Error } }).cause?.cause;
    assert.match(cause?.message ?? '', /^\w+ must run on its host's worker, but this run carries no host route/);
    assert.equal(await sessions.client().get('session:untouched'), 'yes');
  });

  it('a worker started with a host the file does not declare refuses to start in one line', async () => {
    const env = await twoHostEnvironment();
    const w = spawnWorker(env, { TITAN_HOST: 'c' }, 'ignore', 'pipe');
    let stderr = '';
    w.stderr!.on('data', (d) => (stderr += d));
    const [code] = await once(w, 'exit');
    assert.equal(code, 1);
    assert.equal(stderr, `titan worker: host "c" is not declared in ${env.file} (hosts: a, b)\n`);
  });
});
