// npm run bench:backup — titan's streaming backup against the manual runbook, in the same run:
//   manual: `redis-cli --rdb` to a file, then `aws s3 cp` of that file to the same S3 location;
//   titan:  the redisBackup workflow on a real worker process (primary location only, like the
//           runbook), sampling the worker's resident memory every 50 ms.
// Each size runs BENCH_ROUNDS rounds (default 3), alternating which side goes first; medians are
// compared. Prints both times, the ratio titan/manual (target ≤ 1.00), the worker's peak RSS
// growth (target ≤ 150 MiB, the same ±10% at every size), and the CPU seconds per GiB each side
// cost the uploader (titan's worker; the runbook's redis-cli and aws), the S3 server and Redis
// (with its snapshot fork), so the two cores' budget is visible (worker target ≤ 3 s/GiB). A third side, titan with backups.encryption,
// gives the cost of encryption as the ratio encrypted/plaintext (target ≤ 1.05). Sizes:
// BENCH_SIZES_GIB (default "1,4").
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import type { BackupStore } from '../src/infra/backup-store';
import type { RedisBackupResult } from '../src/workflows/redis-backup';
import { stores } from '../test/helpers/backups';
import { type RedisServer, startRedisServer } from '../test/helpers/redis-server';
import { stackSecrets, temporalClient, uniqueName } from '../test/helpers/stack';
import { type TestEnv, writeTestEnvironment } from '../test/helpers/titan-env';
import { spawnWorker } from '../test/helpers/worker';
import { aws, benchEncryption, cpuSeconds, loadAverage, median, pageReporting, rssBytes, s3PrimaryPid, verdict } from './proc';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const VALUE_BYTES = 1024;
const s3Pid = s3PrimaryPid();

/** CPU seconds: of the side's own uploader, of the S3 server and of Redis. */
interface Cpu { client: number; s3: number; redis: number }
interface Sample { seconds: number; cpu: Cpu }

/** The runbook's tools (redis-cli, aws) are this process's children, counted once reaped. */
const childrenCpu = () => cpuSeconds(process.pid, true) - cpuSeconds(process.pid);

async function measure(redisPid: number, clientCpu: () => number, fn: () => Promise<unknown>): Promise<Sample> {
  const cpu = (): Cpu => ({ client: clientCpu(), s3: cpuSeconds(s3Pid), redis: cpuSeconds(redisPid, true) });
  const cpu0 = cpu();
  const t0 = process.hrtime.bigint();
  await fn();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu1 = cpu();
  return { seconds, cpu: { client: cpu1.client - cpu0.client, s3: cpu1.s3 - cpu0.s3, redis: cpu1.redis - cpu0.redis } };
}

function run(cmd: string, args: string[], env: Record<string, string>): Promise<void> {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
  return once(child, 'exit').then(([code]) => {
    if (code !== 0) throw new Error(`${cmd} ${args[0]} exited ${code}`);
  });
}

/** The runbook as an operator would type it: timed from the first command to the end of the upload. */
async function manualRunbook(redis: RedisServer, redisPid: number, primary: BackupStore, env: TestEnv, work: string): Promise<Sample & { bytes: number }> {
  const file = path.join(work, 'dump.rdb');
  const key = `${env.prefix}manual/dump.rdb`;
  const secrets = stackSecrets();
  const sample = await measure(redisPid, childrenCpu, async () => {
    await run('redis-cli', ['-h', '127.0.0.1', '-p', String(redis.port), '--rdb', file], { REDISCLI_AUTH: redis.password });
    await run(aws, ['s3', 'cp', '--only-show-errors', '--endpoint-url', primary.location.endpoint, file, `s3://${primary.bucket}/${key}`], {
      AWS_ACCESS_KEY_ID: secrets.TITAN_S3_ACCESS_KEY_ID!, AWS_SECRET_ACCESS_KEY: secrets.TITAN_S3_SECRET_ACCESS_KEY!, AWS_DEFAULT_REGION: 'us-east-1',
    });
  });
  const bytes = statSync(file).size;
  rmSync(file);
  await primary.client.send(new DeleteObjectCommand({ Bucket: primary.bucket, Key: key }));
  return { ...sample, bytes };
}

/** One titan backup on a fresh, ready worker process: timed from start to result only. */
async function titanBackup(env: TestEnv, redisPid: number, primary: BackupStore): Promise<Sample & { bytes: number; rssGrowth: number }> {
  const worker = spawnWorker(env, {}, 'pipe');
  // The worker prints one line once it polls; its RSS then is the baseline.
  await once(worker.stdout!, 'data');
  const baseline = rssBytes(worker.pid!);
  let peak = baseline;
  const sampler = setInterval(() => (peak = Math.max(peak, rssBytes(worker.pid!))), 50);
  const client = await temporalClient();
  try {
    let result: RedisBackupResult | undefined;
    const sample = await measure(redisPid, () => cpuSeconds(worker.pid!), async () => {
      result = await client.workflow.execute('redisBackup', {
        taskQueue: env.taskQueue, workflowId: uniqueName('bench'), args: [{ redis: 'main', retentionClass: 'daily' }],
      });
    });
    await primary.deleteBackup('main', result!.backupId);
    return { ...sample, bytes: result!.bytes, rssGrowth: peak - baseline };
  } finally {
    clearInterval(sampler);
    worker.kill('SIGTERM');
    await once(worker, 'exit');
    await client.connection.close();
  }
}

// Two dumps of the same data differ by a few bytes of aux fields (used-mem, ctime digits).
const sameDump = (a: number, b: number) => Math.abs(a - b) < 4096;

async function benchSize(gib: number, rounds: number) {
  const redis = await startRedisServer(['--rdbcompression', 'no']);
  const work = mkdtempSync(path.join(os.tmpdir(), 'titan-bench-'));
  try {
    process.env.TITAN_TEST_REDIS_PASSWORD = redis.password;
    const redisPid = Number(/process_id:(\d+)/.exec(await redis.client().info('server'))![1]);
    await redis.client().call('DEBUG', 'POPULATE', String(Math.round((gib * GiB) / (VALUE_BYTES + 40))), 'bench', String(VALUE_BYTES));
    const env = writeTestEnvironment({ redisUrl: redis.url, redisPasswordEnv: 'TITAN_TEST_REDIS_PASSWORD', offsite: false, partSizeMiB: 8 });
    const envEnc = writeTestEnvironment({ redisUrl: redis.url, redisPasswordEnv: 'TITAN_TEST_REDIS_PASSWORD', offsite: false, partSizeMiB: 8, encryption: benchEncryption() });
    const [primary] = stores(env);
    const [primaryEnc] = stores(envEnc);
    const manual: Sample[] = [];
    const titan: Sample[] = [];
    const encrypted: Sample[] = [];
    const growth: number[] = [];
    let rdbBytes = 0;
    for (let round = 0; round < rounds; round++) {
      const sides = [
        async () => {
          const r = await manualRunbook(redis, redisPid, primary!, env, work);
          rdbBytes = r.bytes;
          manual.push(r);
        },
        async () => {
          const r = await titanBackup(env, redisPid, primary!);
          if (rdbBytes && !sameDump(r.bytes, rdbBytes)) throw new Error(`titan stored ${r.bytes} bytes, the runbook ${rdbBytes}`);
          titan.push(r);
          growth.push(r.rssGrowth);
        },
        async () => {
          const r = await titanBackup(envEnc, redisPid, primaryEnc!);
          if (rdbBytes && !sameDump(r.bytes, rdbBytes)) throw new Error(`titan (encrypted) stored ${r.bytes} bytes, the runbook ${rdbBytes}`);
          encrypted.push(r);
        },
      ];
      // Each side goes first in turn.
      for (let i = 0; i < sides.length; i++) await sides[(round + i) % sides.length]!();
    }
    return {
      gib, rdbBytes,
      manual: median(manual.map((s) => s.seconds)), titan: median(titan.map((s) => s.seconds)), encrypted: median(encrypted.map((s) => s.seconds)),
      // CPU seconds per GiB of RDB, medians per process.
      cpu: (['client', 's3', 'redis'] as const).map((k) => [median(manual.map((s) => s.cpu[k])), median(titan.map((s) => s.cpu[k]))].map((c) => (c * GiB) / rdbBytes)),
      encryptedWorkerCpu: (median(encrypted.map((s) => s.cpu.client)) * GiB) / rdbBytes,
      encryptedRatios: encrypted.map((s, i) => +(s.seconds / titan[i]!.seconds).toFixed(3)),
      rssGrowth: Math.max(...growth),
      all: { manual: manual.map((s) => +s.seconds.toFixed(2)), titan: titan.map((s) => +s.seconds.toFixed(2)), encrypted: encrypted.map((s) => +s.seconds.toFixed(2)) },
    };
  } finally {
    await redis.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

async function main() {
  const sizes = (process.env.BENCH_SIZES_GIB ?? '1,4').split(',').map(Number);
  const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
  console.log(`${os.cpus().length} CPUs; ${rounds} rounds per size; medians; ${loadAverage()}; ${pageReporting()}`);
  console.log('dataset  RDB bytes     manual (s)  titan (s)  ratio  worker peak RSS growth  CPU s/GiB, manual / titan: uploader (redis-cli+aws / worker), S3 server, Redis  all runs (manual | titan)');
  const results = [];
  for (const gib of sizes) {
    const r = await benchSize(gib, rounds);
    results.push(r);
    console.log(`${String(gib).padStart(3)} GiB  ${String(r.rdbBytes).padEnd(12)}  ${r.manual.toFixed(2).padStart(10)}  ${r.titan.toFixed(2).padStart(9)}  ${(r.titan / r.manual).toFixed(2).padStart(5)}  ${(r.rssGrowth / MiB).toFixed(1).padStart(17)} MiB  ${r.cpu.map(([m, t]) => `${m!.toFixed(2)} / ${t!.toFixed(2)}`).join(', ').padStart(40)}  ${r.all.manual.join(' ')} | ${r.all.titan.join(' ')}`);
  }
  console.log('encryption: dataset  titan plaintext (s)  titan encrypted (s)  ratio encrypted/plaintext  worker CPU s/GiB plaintext / encrypted (target ≤ 3)  per-round ratios  all encrypted runs');
  for (const r of results) {
    console.log(`            ${String(r.gib).padStart(3)} GiB  ${r.titan.toFixed(2).padStart(19)}  ${r.encrypted.toFixed(2).padStart(19)}  ${verdict(r.encrypted / r.titan, 1.05)}  `
      + `${r.cpu[0]![1]!.toFixed(2)} / ${r.encryptedWorkerCpu.toFixed(2)} (${r.encryptedWorkerCpu <= 3 ? 'MET' : 'MISSED'})  ${r.encryptedRatios.join(' ')}  ${r.all.encrypted.join(' ')}`);
  }
  console.log(`end: ${loadAverage()}`);
  const growth = results.map((r) => r.rssGrowth);
  console.log(`peak RSS growth spread across sizes: ${(((Math.max(...growth) - Math.min(...growth)) / Math.min(...growth)) * 100).toFixed(1)}% (target ±10%)`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
