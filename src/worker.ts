#!/usr/bin/env node
// Connects to Temporal, builds the activity dependencies once, and runs until SIGINT/SIGTERM,
// when the SDK's runtime drains in-flight activities before we close the connection.
import { bundleWorkflowCode, DefaultLogger, type LogLevel, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { buildDeps } from './deps';
import { temporalSettings } from './connection';
import { loopbackAddress } from './lib/config';
import { loadEnvironment } from './load-environment';
import { STAGE_DURATION_BUCKETS, titanMetrics } from './infra/metrics';
import { titanWorkers, workflowBundleOptions } from './worker-options';

const BACKUP_AGE_REFRESH_MS = 60_000;

async function main() {
  const loaded = loadEnvironment();
  const metricsAddress = process.env.TITAN_METRICS_ADDRESS || loaded.env.metrics?.listen;
  if (metricsAddress && !loopbackAddress.safeParse(metricsAddress).success) throw new Error(`TITAN_METRICS_ADDRESS "${metricsAddress}" must be a loopback address such as 127.0.0.1:9464`);
  Runtime.install({
    logger: new DefaultLogger((process.env.TITAN_LOG_LEVEL as LogLevel | undefined) ?? 'INFO'),
    ...(metricsAddress ? { telemetryOptions: { metrics: { prometheus: { bindAddress: metricsAddress, useSecondsForDurations: true, histogramBucketOverrides: { titan_recovery_stage_duration_seconds: STAGE_DURATION_BUCKETS } } } } } : {}),
  });
  const deps = buildDeps(loaded);
  let refresh: NodeJS.Timeout | undefined;
  if (metricsAddress) {
    deps.metrics = titanMetrics(Runtime.instance().metricMeter, deps.stores.primary, Object.keys(loaded.env.redis));
    const refreshAge = () => deps.metrics.refreshBackupAge().catch((err: Error) => console.error(`titan worker: backup age metric: ${err.message}`));
    void refreshAge();
    refresh = setInterval(refreshAge, BACKUP_AGE_REFRESH_MS);
  }
  // Before connecting: a missing current payload key refuses the start in one line (titanWorkers).
  const specs = titanWorkers(loaded, deps, workerHost(process.argv.slice(2)));
  const { connectionOptions, namespace } = temporalSettings();
  const connection = await NativeConnection.connect(connectionOptions);
  try {
    // Production's worker, and the drill's beside it when the file has a recovery.drill section.
    // One bundle of the workflow code for both.
    const workflowBundle = await bundleWorkflowCode({ ...workflowBundleOptions, logger: Runtime.instance().logger });
    const workers = await Promise.all(specs.map((w) => Worker.create({ connection, namespace, taskQueue: w.taskQueue, workflowBundle, ...w.options })));
    const queues = workers.map((w) => w.options.taskQueue).join(' and ');
    const payloadKey = loaded.env.temporal?.encryption.current;
    console.log(`titan worker: environment ${loaded.env.environment}, task queue ${queues}, Temporal ${connectionOptions.address}/${namespace}, payloads ${payloadKey ? `encrypted with key ${payloadKey}` : 'NOT encrypted (no temporal.encryption)'}${metricsAddress ? `, metrics http://${metricsAddress}/metrics` : ''}`);
    await runAll(workers);
  } finally {
    clearInterval(refresh);
    await connection.close();
  }
}

/** The host this worker runs on: `--host <name>`, `--host=<name>` or TITAN_HOST (none: orchestration only, or the implicit host). */
function workerHost(args: string[]): string | undefined {
  const i = args.findIndex((a) => a === '--host' || a.startsWith('--host='));
  const flag = i < 0 ? undefined : args[i]!.includes('=') ? args[i]!.slice('--host='.length) : args[i + 1];
  if (i >= 0 && !flag) throw new Error('--host needs a host name');
  return flag ?? (process.env.TITAN_HOST || undefined);
}

/** Runs the workers until the runtime shuts them down; one failing stops the others too. */
async function runAll(workers: Worker[]) {
  await Promise.all(workers.map((w) => w.run().catch((err: unknown) => {
    for (const other of workers) if (other.getState() === 'RUNNING') other.shutdown();
    throw err;
  })));
}

main().catch((err) => {
  console.error(`titan worker: ${err instanceof Error ? err.message : err}`);
  process.exit(1);
});
