#!/usr/bin/env node
// Connects to Temporal, builds the activity dependencies once, and runs until SIGINT/SIGTERM,
// when the SDK's runtime drains in-flight activities before we close the connection.
import { DefaultLogger, type LogLevel, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { buildDeps } from './activities/deps';
import { temporalSettings } from './connection';
import { loadEnvironment } from './load-environment';
import { titanWorkerOptions } from './worker-options';

async function main() {
  Runtime.install({ logger: new DefaultLogger((process.env.TITAN_LOG_LEVEL as LogLevel | undefined) ?? 'INFO') });
  const loaded = loadEnvironment();
  const deps = buildDeps(loaded);
  const { connectionOptions, namespace } = temporalSettings();
  const connection = await NativeConnection.connect(connectionOptions);
  try {
    const taskQueue = loaded.env.taskQueue;
    const worker = await Worker.create({
      connection,
      namespace,
      taskQueue,
      workflowsPath: require.resolve('./workflows'),
      ...titanWorkerOptions(deps),
    });
    console.log(`titan worker: environment ${loaded.env.environment}, task queue ${taskQueue}, Temporal ${connectionOptions.address}/${namespace}`);
    await worker.run();
  } finally {
    await connection.close();
  }
}

main().catch((err) => {
  console.error(`titan worker: ${err instanceof Error ? err.message : err}`);
  process.exit(1);
});
