// npm run bench:backup — titan's streaming backup against the manual runbook, in the same run:
//   manual: `redis-cli --rdb` to a file, then `aws s3 cp` of that file to the same S3 location;
//   titan:  the redisBackup workflow on a real worker process (primary location only, like the
//           runbook), sampling the worker's resident memory every 50 ms.
// Prints both times, their ratio (titan / manual; target ≤ 0.75) and the worker's RSS growth
// (target ≤ 150 MiB, the same ±10% at every size). Sizes: BENCH_SIZES_GIB (default "1,4").
import { spawn } from 'node:child_process';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { stores } from '../test/helpers/backups';
import { startRedisServer } from '../test/helpers/redis-server';
import { repoRoot, stackSecrets, temporalClient, uniqueName } from '../test/helpers/stack';
import { writeTestEnvironment } from '../test/helpers/titan-env';
import { spawnWorker } from '../test/helpers/worker';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const VALUE_BYTES = 1024;
const aws = path.join(repoRoot, '.titan', 'tools', 'bin', 'aws');

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

async function timed<T>(fn: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const t0 = process.hrtime.bigint();
  const value = await fn();
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, value };
}

function run(cmd: string, args: string[], env: Record<string, string>): Promise<void> {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
  return once(child, 'exit').then(([code]) => {
    if (code !== 0) throw new Error(`${cmd} ${args[0]} exited ${code}`);
  });
}

async function benchSize(gib: number) {
  const redis = await startRedisServer(['--rdbcompression', 'no', '--maxmemory', '0']);
  const work = mkdtempSync(path.join(os.tmpdir(), 'titan-bench-'));
  try {
    process.env.TITAN_TEST_REDIS_PASSWORD = redis.password;
    const keys = Math.round((gib * GiB) / (VALUE_BYTES + 40));
    await redis.client().call('DEBUG', 'POPULATE', String(keys), 'bench', String(VALUE_BYTES));
    const env = writeTestEnvironment({ redisUrl: redis.url, redisPasswordEnv: 'TITAN_TEST_REDIS_PASSWORD', offsite: false, partSizeMiB: 8 });
    const [primary] = stores(env);
    const secrets = stackSecrets();

    // The manual runbook, step by step.
    const file = path.join(work, 'dump.rdb');
    const manual = await timed(async () => {
      await run('redis-cli', ['-h', '127.0.0.1', '-p', String(redis.port), '--rdb', file], { REDISCLI_AUTH: redis.password });
      await run(aws, ['s3', 'cp', '--only-show-errors', '--endpoint-url', primary!.location.endpoint, file, `s3://${primary!.bucket}/${env.prefix}manual/dump.rdb`], {
        AWS_ACCESS_KEY_ID: secrets.TITAN_S3_ACCESS_KEY_ID!, AWS_SECRET_ACCESS_KEY: secrets.TITAN_S3_SECRET_ACCESS_KEY!, AWS_DEFAULT_REGION: 'us-east-1',
      });
    });
    const rdbBytes = statSync(file).size;
    rmSync(file);

    // Titan, on a real worker process.
    const worker = spawnWorker(env, {}, 'pipe');
    // The worker prints one line once it polls; its RSS then is the baseline.
    await new Promise<void>((resolve) => worker.stdout!.once('data', () => resolve()));
    const baseline = rssBytes(worker.pid!);
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, rssBytes(worker.pid!))), 50);
    const client = await temporalClient();
    const titan = await timed(() => client.workflow.execute('redisBackup', {
      taskQueue: env.taskQueue, workflowId: uniqueName('bench'), args: [{ redis: 'main', retentionClass: 'daily' }],
    }));
    clearInterval(sampler);
    worker.kill('SIGTERM');
    await once(worker, 'exit');
    await client.connection.close();
    const stored = await primary!.readManifest('main', titan.value.backupId);
    if (stored?.bytes !== rdbBytes && Math.abs((stored?.bytes ?? 0) - rdbBytes) > rdbBytes * 0.01) {
      throw new Error(`titan stored ${stored?.bytes} bytes, the runbook ${rdbBytes}: not the same dataset`);
    }
    for (const e of await primary!.list('main')) await primary!.deleteBackup('main', e.id);
    await primary!.client.send(new DeleteObjectCommand({ Bucket: primary!.bucket, Key: `${env.prefix}manual/dump.rdb` }));
    return { gib, rdbBytes, manual: manual.seconds, titan: titan.seconds, rssGrowth: peak - baseline };
  } finally {
    await redis.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

async function main() {
  const sizes = (process.env.BENCH_SIZES_GIB ?? '1,4').split(',').map(Number);
  const results = [];
  console.log('dataset  rdb bytes       manual (s)  titan (s)  ratio  worker RSS growth');
  for (const gib of sizes) {
    const r = await benchSize(gib);
    results.push(r);
    console.log(`${String(gib).padStart(3)} GiB  ${String(r.rdbBytes).padEnd(14)}  ${r.manual.toFixed(2).padStart(10)}  ${r.titan.toFixed(2).padStart(9)}  ${(r.titan / r.manual).toFixed(2).padStart(5)}  ${(r.rssGrowth / MiB).toFixed(1)} MiB`);
  }
  const growth = results.map((r) => r.rssGrowth);
  const spread = (Math.max(...growth) - Math.min(...growth)) / Math.min(...growth);
  console.log(`memory growth spread across sizes: ${(spread * 100).toFixed(1)}% (target ±10%)`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
