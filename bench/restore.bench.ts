// npm run bench:restore — titan's verified restore against the manual runbook, in the same run.
// Setup per size: a Redis run from a config file (rdbcompression no) filled with DEBUG POPULATE,
// and one backup taken by the redisBackup workflow (primary location only). Every round starts
// both sides from the same disaster: FLUSHALL, the data files removed, Redis running empty, and
// no dirty pages left to write back.
//   manual: `aws s3 cp` of the object to a file, `redis-cli SHUTDOWN NOSAVE`, `cp` to dump.rdb,
//           `redis-server <config>`, PING until PONG, DBSIZE; no verification.
//   titan:  the redisRestore workflow on a real worker process, with its full verification,
//           sampling the worker's resident memory every 50 ms. Each fresh worker is warmed up
//           first (see warmUp), as a worker that has run its schedules is.
// BENCH_ROUNDS rounds (default 12) run the three sides in the orders of ORDERS; medians are
// compared. Prints both times, the ratio titan/manual (target ≤ 1.10), each side's step times, the
// worker's peak RSS growth and CPU seconds. A third side restores the same data from an encrypted
// backup (backups.encryption, its own prefix): the cost of decryption is the median of the rounds'
// own encrypted/plaintext ratios (target ≤ 1.05), with a 95 % interval for it (by resampling the
// rounds), also shown as the ratio of the medians.
// Sizes: BENCH_SIZES_GIB (default "1").
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DeleteObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { Client } from '@temporalio/client';
import type { BackupStore } from '../src/infra/backup-store';
import type { RedisRestoreResult } from '../src/workflows/redis-restore';
import { runBackup, stores } from '../test/helpers/backups';
import { type ManagedRedis, startManagedRedis } from '../test/helpers/managed-redis';
import { stackSecrets, temporalClient, uniqueName } from '../test/helpers/stack';
import { type TestEnv, writeTestEnvironment } from '../test/helpers/titan-env';
import { spawnWorker } from '../test/helpers/worker';
import { aws, benchEncryption, cpuSeconds, loadAverage, median, medianInterval, pageReporting, rssBytes, s3PrimaryPid, verdict } from './proc';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const VALUE_BYTES = 1024;
// A populated key takes ~1040 bytes of uncompressed RDB (type, "bench:N", lengths, value);
// dividing by a little less makes the RDB at least the requested size.
const RDB_BYTES_PER_KEY = 1030;
const PASSWORD_ENV = 'TITAN_BENCH_REDIS_PASSWORD';
/** The one step decryption adds work to. */
const STAGING_STEP = 'download and verify';
const s3Pid = s3PrimaryPid();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/**
 * The sides' order in round r is ORDERS[r % 6]: over six rounds each side runs twice in each
 * place, and the plaintext restore runs before the encrypted one in three rounds and after it in
 * three. (Rotating three sides put the plaintext one first in two rounds of three, and on this VM
 * a restore's time depends on what the side before it freed: docs/benchmarks.md.)
 */
const ORDERS = [[0, 1, 2], [2, 1, 0], [1, 2, 0], [0, 2, 1], [2, 0, 1], [1, 0, 2]] as const;

/** Alive and not a zombie: a redis-server the worker started is no child of ours to reap. */
function alive(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]![0] !== 'Z';
  } catch {
    return false;
  }
}

/** Runs a command as an operator would; resolves with its stdout, fails loudly on a non-zero exit. */
function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  return once(child, 'exit').then(([code]) => {
    if (code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err.trim()}`);
    return out;
  });
}

const redisCli = (redis: ManagedRedis, ...args: string[]) =>
  run('redis-cli', ['-h', '127.0.0.1', '-p', new URL(redis.url).port, ...args], { REDISCLI_AUTH: redis.password });

/** Resolves once the worker prints its one line (it polls then); fails if it exits first. */
async function ready(worker: ChildProcess): Promise<void> {
  const exited = once(worker, 'exit').then(([code]) => {
    throw new Error(`the worker exited (${code}) before it polled`);
  });
  await Promise.race([once(worker.stdout!, 'data'), exited]);
  exited.catch(() => undefined);
}

async function dbsize(redis: ManagedRedis): Promise<number> {
  return Number((await redisCli(redis, 'DBSIZE')).trim());
}

function assertCount(side: string, got: number, want: number): void {
  if (got !== want) throw new Error(`${side}: DBSIZE ${got} after the restore, the dataset has ${want} keys`);
}

/** The disaster both sides start from: Redis running, empty, no data files on disk. */
async function disaster(redis: ManagedRedis): Promise<void> {
  const c = redis.client();
  try {
    await c.flushall();
    if ((await c.dbsize()) !== 0) throw new Error('FLUSHALL left keys behind');
  } finally {
    c.disconnect();
  }
  // dump.rdb and whatever earlier restores left (staging, rollback folders).
  for (const f of readdirSync(redis.dataDir)) rmSync(path.join(redis.dataDir, f), { recursive: true, force: true });
  // The side before left up to a GiB of dirty pages (the runbook's cp never flushes): the next side
  // must not pay for their writeback.
  await run('sync', []);
}

type Steps = Record<string, number>;
interface ManualRun { seconds: number; steps: Steps; s3Cpu: number }
interface TitanRun { seconds: number; steps: Steps; s3Cpu: number; workerCpu: number; rssGrowth: number; verification: RedisRestoreResult['verification'] }

/** The runbook as an operator would type it, timed from the first command to DBSIZE answering. */
async function manualRestore(redis: ManagedRedis, store: BackupStore, objectKey: string, work: string, keys: number): Promise<ManualRun> {
  const file = path.join(work, 'dump.rdb');
  const secrets = stackSecrets();
  const steps: Steps = {};
  let t = process.hrtime.bigint();
  const lap = (step: string) => {
    const now = process.hrtime.bigint();
    steps[step] = Number(now - t) / 1e6;
    t = now;
  };
  const cpu0 = cpuSeconds(s3Pid);
  const t0 = t;
  await run(aws, ['s3', 'cp', '--only-show-errors', '--endpoint-url', store.location.endpoint, `s3://${store.bucket}/${objectKey}`, file], {
    AWS_ACCESS_KEY_ID: secrets.TITAN_S3_ACCESS_KEY_ID!, AWS_SECRET_ACCESS_KEY: secrets.TITAN_S3_SECRET_ACCESS_KEY!, AWS_DEFAULT_REGION: 'us-east-1',
  });
  lap('download');
  const oldPid = Number(readFileSync(redis.pidFile, 'utf8'));
  await redisCli(redis, 'SHUTDOWN', 'NOSAVE').catch(() => undefined); // the connection drops as it exits
  while (alive(oldPid)) await sleep(20); // the port must be free for the new server
  lap('stop Redis');
  await run('cp', [file, path.join(redis.dataDir, 'dump.rdb')]);
  lap('cp to dump.rdb');
  // As the managed helper starts it, so the helper (and titan) can stop it later by its pid file.
  const proc = spawn('redis-server', [redis.configFile], { detached: true, stdio: 'ignore' });
  proc.unref();
  writeFileSync(redis.pidFile, `${proc.pid}\n`);
  // redis-cli prints the LOADING error or "Could not connect" until Redis has loaded.
  for (;;) {
    if ((await redisCli(redis, 'PING').catch(() => '')).trim() === 'PONG') break;
    if (!alive(proc.pid!)) throw new Error('manual: redis-server exited while loading');
    await sleep(50);
  }
  lap('start Redis (load)');
  const n = await dbsize(redis);
  lap('DBSIZE');
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const s3Cpu = cpuSeconds(s3Pid) - cpu0;
  rmSync(file);
  assertCount('manual', n, keys);
  return { seconds, steps, s3Cpu };
}

/**
 * A worker's first workflow task loads the workflow code (~0.2 s here); a worker that has run its
 * backup schedules has done that long before a restore. So each fresh worker first runs a restore
 * of a backup that does not exist, which fails at the listing, before Redis is touched.
 */
async function warmUp(client: Client, env: TestEnv): Promise<void> {
  const r = client.workflow.execute('redisRestore', { taskQueue: env.taskQueue, workflowId: uniqueName('bench-warm-up'), args: [{ redis: 'main', backupId: 'main-20000101T000000Z-00000000' }] });
  let cause: unknown = await r.then(() => undefined, (err: Error) => err);
  while ((cause as Error | undefined)?.cause) cause = (cause as Error).cause;
  if (!/not found/.test(String((cause as Error | undefined)?.message))) throw new Error(`the warm-up restore should fail with "not found": ${cause ?? 'it succeeded'}`);
}

/** One titan restore on a fresh, ready and warmed-up worker process (a running worker is the normal state). */
async function titanRestore(redis: ManagedRedis, env: TestEnv, backupId: string, keys: number): Promise<TitanRun> {
  const worker = spawnWorker(env, {}, 'pipe');
  let client: Client | undefined;
  let sampler: NodeJS.Timeout | undefined;
  try { // a failed warm-up or restore still stops the worker
    await ready(worker);
    client = await temporalClient();
    await warmUp(client, env);
    const pid = worker.pid!;
    const baseline = rssBytes(pid); // after the warm-up: what the restore itself adds
    let peak = baseline;
    sampler = setInterval(() => (peak = Math.max(peak, rssBytes(pid))), 50);
    const cpu0 = { s3: cpuSeconds(s3Pid), worker: cpuSeconds(pid) };
    const t0 = process.hrtime.bigint();
    const r: RedisRestoreResult = await client.workflow.execute('redisRestore', {
      taskQueue: env.taskQueue, workflowId: uniqueName('bench-restore'), args: [{ redis: 'main' }],
    });
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = { s3: cpuSeconds(s3Pid) - cpu0.s3, worker: cpuSeconds(pid) - cpu0.worker };
    if (r.backup.backupId !== backupId) throw new Error(`titan restored ${r.backup.backupId}, not ${backupId}`);
    if (r.verification.problems.length > 0) throw new Error(`titan's verification: ${r.verification.problems.join('; ')}`);
    assertCount('titan', await dbsize(redis), keys);
    const steps: Steps = Object.fromEntries(r.steps.map((s) => [s.step, s.ms]));
    // Workflow tasks, activity dispatch and the clean-up activity: what no step accounts for.
    // Inspecting the target and listing the backups run side by side: the longer one counts.
    const overlapped = Math.min(steps['inspect target'] ?? 0, steps['list backups'] ?? 0);
    steps['other (tasks, clean-up)'] = seconds * 1000 - r.steps.reduce((a, s) => a + s.ms, 0) + overlapped;
    return { seconds, steps, s3Cpu: cpu.s3, workerCpu: cpu.worker, rssGrowth: peak - baseline, verification: r.verification };
  } finally {
    clearInterval(sampler);
    if (worker.exitCode === null) {
      worker.kill('SIGTERM');
      await once(worker, 'exit');
    }
    await client?.connection.close();
  }
}

/** Everything the bench stored under its environment's prefix: the backup and its manifest. */
async function removeStored(env: TestEnv): Promise<void> {
  const [primary] = stores(env);
  await primary!.abortUploads(env.prefix);
  const listed = await primary!.client.send(new ListObjectsV2Command({ Bucket: primary!.bucket, Prefix: env.prefix }));
  for (const o of listed.Contents ?? []) await primary!.client.send(new DeleteObjectCommand({ Bucket: primary!.bucket, Key: o.Key }));
}

function stepMedians(runs: { steps: Steps }[]): [string, number][] {
  return Object.keys(runs[0]!.steps).map((s) => [s, median(runs.map((r) => r.steps[s] ?? 0)) / 1000]);
}

async function benchSize(gib: number, rounds: number) {
  const keys = Math.ceil((gib * GiB) / RDB_BYTES_PER_KEY);
  const redis = await startManagedRedis({ extra: ['rdbcompression no'] });
  const work = mkdtempSync(path.join(os.tmpdir(), 'titan-bench-restore-'));
  let env: TestEnv | undefined;
  let envEnc: TestEnv | undefined;
  try {
    process.env[PASSWORD_ENV] = redis.password;
    env = writeTestEnvironment({ instances: { main: redis.instance(PASSWORD_ENV) }, offsite: false, partSizeMiB: 8 });
    envEnc = writeTestEnvironment({ instances: { main: redis.instance(PASSWORD_ENV) }, offsite: false, partSizeMiB: 8, encryption: benchEncryption() });
    const [primary] = stores(env);
    const c = redis.client();
    await c.call('DEBUG', 'POPULATE', String(keys), 'bench', String(VALUE_BYTES));
    assertCount('populate', await c.dbsize(), keys);
    c.disconnect();

    const takeBackup = async (e: TestEnv) => {
      const setupWorker = spawnWorker(e, {}, 'pipe');
      await ready(setupWorker);
      const client = await temporalClient();
      return runBackup(client, e).finally(async () => {
        setupWorker.kill('SIGTERM');
        await once(setupWorker, 'exit');
        await client.connection.close();
      });
    };
    const t0 = Date.now();
    const backup = await takeBackup(env);
    const backupEnc = await takeBackup(envEnc);
    const backupId = backup.backupId;
    if (backup.bytes < gib * GiB) throw new Error(`the RDB is ${backup.bytes} bytes, less than ${gib} GiB`);
    const objectKey = primary!.keys('main', backupId).object;
    console.log(`${gib} GiB: ${keys} keys, backup ${backupId} of ${backup.bytes} bytes (${(backup.bytes / GiB).toFixed(2)} GiB) taken in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

    const manual: ManualRun[] = [];
    const titan: TitanRun[] = [];
    const encrypted: TitanRun[] = [];
    for (let round = 0; round < rounds; round++) {
      const sides = [
        async () => {
          await disaster(redis);
          manual.push(await manualRestore(redis, primary!, objectKey, work, keys));
        },
        async () => {
          await disaster(redis);
          titan.push(await titanRestore(redis, env!, backupId, keys));
        },
        async () => {
          await disaster(redis);
          encrypted.push(await titanRestore(redis, envEnc!, backupEnc.backupId, keys));
        },
      ];
      const order = ORDERS[round % ORDERS.length]!;
      for (const side of order) await sides[side]!();
      const m = manual[round]!;
      const t = titan[round]!;
      const e = encrypted[round]!;
      console.log(`  round ${round + 1} (${order.map((i) => ['manual', 'titan', 'titan encrypted'][i]).join(', ')}): manual ${m.seconds.toFixed(2)} s, titan ${t.seconds.toFixed(2)} s, ratio ${(t.seconds / m.seconds).toFixed(2)}; `
        + `encrypted ${e.seconds.toFixed(2)} s, ratio to plaintext ${(e.seconds / t.seconds).toFixed(3)} (worker CPU ${e.workerCpu.toFixed(1)} s); `
        + `worker RSS +${(t.rssGrowth / MiB).toFixed(1)} MiB, worker CPU ${t.workerCpu.toFixed(1)} s; samples checked ${t.verification.samplesChecked}`);
      console.log(`    manual steps (s): ${Object.entries(m.steps).map(([s, ms]) => `${s} ${(ms / 1000).toFixed(2)}`).join(', ')}`);
      console.log(`    titan steps (s):  ${Object.entries(t.steps).map(([s, ms]) => `${s} ${(ms / 1000).toFixed(2)}`).join(', ')}`);
      console.log(`    encrypted steps (s): ${Object.entries(e.steps).map(([s, ms]) => `${s} ${(ms / 1000).toFixed(2)}`).join(', ')}`);
    }
    const pairedRatios = encrypted.map((e, i) => e.seconds / titan[i]!.seconds);
    return {
      gib, bytes: backup.bytes, keys,
      manual: median(manual.map((r) => r.seconds)), titan: median(titan.map((r) => r.seconds)), encrypted: median(encrypted.map((r) => r.seconds)),
      encryptedSteps: stepMedians(encrypted), encryptedWorkerCpu: median(encrypted.map((r) => r.workerCpu)),
      // The two titan sides of a round run close together: their ratio is freer of the drift between rounds.
      pairedRatio: median(pairedRatios), pairedRatios,
      stagingRatio: median(encrypted.map((e, i) => (e.steps[STAGING_STEP] ?? NaN) / (titan[i]!.steps[STAGING_STEP] ?? NaN))),
      manualSteps: stepMedians(manual), titanSteps: stepMedians(titan),
      manualS3Cpu: median(manual.map((r) => r.s3Cpu)), titanS3Cpu: median(titan.map((r) => r.s3Cpu)),
      workerCpu: median(titan.map((r) => r.workerCpu)),
      rssGrowth: Math.max(...titan.map((r) => r.rssGrowth)),
      all: { manual: manual.map((r) => r.seconds.toFixed(2)), titan: titan.map((r) => r.seconds.toFixed(2)), encrypted: encrypted.map((r) => r.seconds.toFixed(2)) },
    };
  } finally {
    for (const e of [env, envEnc]) {
      if (!e) continue;
      await removeStored(e).catch((err) => console.error(`could not remove ${e.prefix} from S3: ${err}`));
      rmSync(path.dirname(e.file), { recursive: true, force: true });
    }
    await redis.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

async function main() {
  const started = Date.now();
  const sizes = (process.env.BENCH_SIZES_GIB ?? '1').split(',').map(Number);
  // Each order twice: on this VM one round's ratio ranged from 0.8 to 1.4, six rounds' median from 0.94 to 1.10.
  const rounds = Number(process.env.BENCH_ROUNDS ?? 2 * ORDERS.length);
  console.log(`${os.cpus().length} CPUs; ${rounds} rounds per size; medians; ${loadAverage()}; ${pageReporting()}`);
  const results = [];
  for (const gib of sizes) results.push(await benchSize(gib, rounds));
  console.log('dataset  RDB bytes     manual (s)  titan (s)  ratio (target ≤ 1.10)  worker peak RSS growth  worker CPU s  S3 server CPU s (manual / titan)  all runs (manual | titan)');
  for (const r of results) {
    console.log(`${String(r.gib).padStart(3)} GiB  ${String(r.bytes).padEnd(12)}  ${r.manual.toFixed(2).padStart(10)}  ${r.titan.toFixed(2).padStart(9)}  ${(r.titan / r.manual).toFixed(2).padStart(21)}  `
      + `${(r.rssGrowth / MiB).toFixed(1).padStart(18)} MiB  ${r.workerCpu.toFixed(1).padStart(12)}  ${r.manualS3Cpu.toFixed(1).padStart(16)} / ${r.titanS3Cpu.toFixed(1)}  ${r.all.manual.join(' ')} | ${r.all.titan.join(' ')}`);
    console.log(`  manual step medians (s): ${r.manualSteps.map(([s, v]) => `${s} ${v.toFixed(2)}`).join(', ')}`);
    console.log(`  titan step medians (s):  ${r.titanSteps.map(([s, v]) => `${s} ${v.toFixed(2)}`).join(', ')}`);
    const [low, high] = medianInterval(r.pairedRatios);
    console.log(`  encryption: median of the rounds' encrypted/plaintext ratios ${verdict(r.pairedRatio, 1.05)}, 95 % interval ${low.toFixed(3)}–${high.toFixed(3)} (${r.pairedRatios.map((x) => x.toFixed(3)).join(' ')}); `
      + `titan plaintext ${r.titan.toFixed(2)} s, titan encrypted ${r.encrypted.toFixed(2)} s, ratio of the medians ${(r.encrypted / r.titan).toFixed(3)}; ${STAGING_STEP} step ${r.stagingRatio.toFixed(3)}; worker CPU ${r.workerCpu.toFixed(1)} / ${r.encryptedWorkerCpu.toFixed(1)} s; all encrypted runs ${r.all.encrypted.join(' ')}`);
    console.log(`  encrypted step medians (s): ${r.encryptedSteps.map(([s, v]) => `${s} ${v.toFixed(2)}`).join(', ')}`);
  }
  console.log(`whole bench: ${((Date.now() - started) / 1000).toFixed(0)} s; end: ${loadAverage()}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
