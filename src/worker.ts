#!/usr/bin/env node
// Connects to Temporal, builds the activity dependencies once, and runs until SIGINT/SIGTERM,
// when the SDK's runtime drains in-flight activities before we close the connection.
import { DefaultLogger, type LogLevel, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { createActivities } from './activities';
import { buildDeps } from './activities/deps';
import { temporalSettings } from './connection';
import { loadEnvironment } from './load-environment';
import { TASK_QUEUE } from './lib/shared';

async function main() {
  Runtime.install({ logger: new DefaultLogger((process.env.TITAN_LOG_LEVEL as LogLevel | undefined) ?? 'INFO') });
  const loaded = loadEnvironment();
  const deps = buildDeps(loaded);
  const { connectionOptions, namespace } = temporalSettings();
  const connection = await NativeConnection.connect(connectionOptions);
  try {
    const taskQueue = loaded.env.taskQueue ?? TASK_QUEUE;
    const worker = await Worker.create({
      connection,
      namespace,
      taskQueue,
      workflowsPath: require.resolve('./workflows'),
      activities: createActivities(deps),
      // Progress reaches the UI and `titan backup` within seconds, not at 80% of the heartbeat timeout.
      maxHeartbeatThrottleInterval: '2s',
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
