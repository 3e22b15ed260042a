// Workers for tests: in-process (workflow code bundled once per run) or as a child process that a
// test can SIGKILL, exactly like a production worker crash.
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { titanWorkers, workflowBundleOptions } from '../../src/worker-options';
import { repoRoot, TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, temporalEnv } from './stack';
import type { TestEnv } from './titan-env';

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

let runtimeInstalled = false;

/** Once per process: worker state changes (INFO) and expected activity failures (WARN) would drown the report. */
export function quietRuntime(): void {
  if (runtimeInstalled) return;
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  runtimeInstalled = true;
}

export async function startWorker(env: TestEnv): Promise<{ stop(): Promise<void> }> {
  quietRuntime();
  bundle ??= bundleWorkflowCode({ ...workflowBundleOptions, logger: quietLogger });
  const connection = await NativeConnection.connect({ address: TEMPORAL_ADDRESS });
  // The same workers as src/worker.ts: with a drill section, the drill's on <taskQueue>-drill too.
  const workers = await Promise.all(titanWorkers(env.loaded).map(async (w) => Worker.create({
    connection,
    namespace: TEMPORAL_NAMESPACE,
    taskQueue: w.taskQueue,
    workflowBundle: await bundle!,
    ...w.options,
  })));
  const running = Promise.all(workers.map((w) => w.run()));
  return {
    async stop() {
      workers.forEach((w) => w.shutdown());
      await running;
      await connection.close();
    },
  };
}

/** The real worker entry point (dist/src/worker.js) as a child process. */
export function spawnWorker(env: TestEnv, extraEnv: Record<string, string> = {}, stdout: 'ignore' | 'pipe' = 'ignore', stderr: 'inherit' | 'pipe' = 'inherit'): ChildProcess {
  return spawn(process.execPath, [path.join(repoRoot, 'dist', 'src', 'worker.js')], {
    env: { ...process.env, TITAN_CONFIG: env.file, ...temporalEnv, TITAN_LOG_LEVEL: 'ERROR', ...extraEnv },
    stdio: ['ignore', stdout, stderr],
  });
}

const quietLogger = {
  log() {}, trace() {}, debug() {}, info() {},
  warn: (m: string) => console.warn(m),
  error: (m: string) => console.error(m),
};
