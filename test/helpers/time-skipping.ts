// Temporal's time-skipping test server for the workflow tests: with Titan's search attributes
// registered (every recovery sets them), and a worker of the stub stages (test/workflows/stub-stages.ts).
import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { SearchKey } from '../../src/lib/names';
import { testServerBin } from './stack';
import { quietRuntime } from './worker';

export async function timeSkippingEnvironment(): Promise<TestWorkflowEnvironment> {
  quietRuntime();
  const env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: testServerBin } } });
  const K = temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;
  await env.connection.operatorService.addSearchAttributes({ namespace: env.namespace, searchAttributes: Object.fromEntries(Object.values(SearchKey).map((k) => [k.name, K])) });
  return env;
}

/** A worker running the stub stages with these activities, until stop(). */
export async function stubStagesWorker(env: TestWorkflowEnvironment, taskQueue: string, activities: object): Promise<{ stop(): Promise<void> }> {
  const worker = await Worker.create({ connection: env.nativeConnection, namespace: env.namespace, taskQueue, workflowsPath: require.resolve('../workflows/stub-stages'), activities });
  const running = worker.run();
  return {
    async stop() {
      worker.shutdown();
      await running;
    },
  };
}
