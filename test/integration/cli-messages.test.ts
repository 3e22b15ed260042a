// Errors that name the mistake, on the real stack: no worker, Temporal unreachable, no recovery or
// one that already ended, retries in progress, misspelt keys and paths as the user gave them.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import { parse, stringify } from 'yaml';
import { workerPolls } from '../../src/cli/worker-check';
import { WorkflowId } from '../../src/lib/names';
import { loadEnvironment } from '../../src/load-environment';
import { titan } from '../helpers/cli';
import { decodeFirst } from '../helpers/payloads';
import { dockerSocket, repoRoot, temporalClient, temporalEnv } from '../helpers/stack';
import { type TestEnv, writeTestEnvironment } from '../helpers/titan-env';
import { until } from '../helpers/wait';
import { spawnWorker, startWorker } from '../helpers/worker';

/** A port nothing listens on (a location, a Redis or a Temporal that is down). */
const CLOSED = '127.0.0.1:8399';

const notFound = (p: Promise<unknown>) => p.then(() => false, (err: unknown) => err instanceof WorkflowNotFoundError);

/** The workflow's current details as the Web UI shows them (the SDK's metadata Query, JSON-encoded protobuf). */
async function currentDetails(client: Client, workflowId: string): Promise<string> {
  const r = await client.workflowService.queryWorkflow({ namespace: client.options.namespace, execution: { workflowId }, query: { queryType: '__temporal_workflow_metadata' } });
  return (await decodeFirst<{ currentDetails?: string }>(client, r.queryResult?.payloads))?.currentDetails ?? '';
}

/** The titan CLI in the background, its stderr readable while it runs. */
function titanInBackground(args: string[]) {
  const child = spawn(process.execPath, [path.join(repoRoot, 'dist', 'src', 'client.js'), ...args], { env: { ...process.env, ...temporalEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '', code: undefined as number | null | undefined };
  child.stdout.on('data', (d) => (out.stdout += d));
  child.stderr.on('data', (d) => (out.stderr += d));
  const exited = new Promise<void>((r) => child.on('close', (code) => { out.code = code; r(); }));
  return { out, exited, kill: () => child.kill('SIGTERM') };
}

describe('CLI errors that name the mistake', function () {
  let client: Client;
  before(async () => (client = await temporalClient()));
  after(async () => client?.connection.close());

  describe('without a worker', () => {
    let env: TestEnv;
    before(() => (env = writeTestEnvironment({ redisUrl: `redis://${CLOSED}`, docker: { socketPath: dockerSocket } })));

    it('a command that starts a workflow refuses within seconds, naming the task queue, and starts nothing', async () => {
      const t0 = Date.now();
      const run = await titan(['--config', env.file, 'restore', '--backup', 'nope', '--yes']);
      const seconds = (Date.now() - t0) / 1000;
      assert.equal(run.code, 1, run.stderr);
      assert.equal(run.stderr, `titan: no worker is polling ${env.taskQueue}: start it with npm start (or the worker service); nothing was started (--wait-for-worker starts it anyway and waits)\n`);
      assert.ok(seconds < 20, `answered in ${seconds}s (5 s of checking, the rest node and a loaded machine)`);
      assert.ok(await notFound(client.workflow.getHandle(WorkflowId.restore(env.loaded.env, 'main')).describe()), 'no restore was started');
      const backup = await titan(['--config', env.file, 'backup', '--no-wait']);
      assert.equal(backup.code, 1);
      assert.match(backup.stderr, new RegExp(`^titan: no worker is polling ${env.taskQueue}: `));
    });

    it('--wait-for-worker says so, starts anyway, and goes on when a worker comes', async () => {
      const run = titanInBackground(['--config', env.file, '--wait-for-worker', 'restore', '--backup', 'nope', '--yes']);
      try {
        await until('the notice', async () => run.out.stderr.includes(`no worker is polling ${env.taskQueue}: start it with npm start (or the worker service); starting anyway and waiting for one (--wait-for-worker)`), 30_000)
          .catch((err: Error) => assert.fail(`${err.message}; stderr: ${run.out.stderr}`));
        assert.equal(run.out.code, undefined, 'still waiting');
        const worker = await startWorker(env);
        try {
          await run.exited;
        } finally {
          await worker.stop();
        }
        // The worker ran it: its first activity found that Redis main's container does not exist.
        assert.equal(run.out.code, 1, run.out.stderr);
        assert.match(run.out.stderr, /^restore workflow \S+ started\ntitan: Redis main: no container named unused-in-backup-tests on the Docker engine\n$/m);
      } finally {
        run.kill();
      }
    });
  });

  it('Temporal unreachable: one line naming the address and what to check', async () => {
    const env = writeTestEnvironment({ redisUrl: `redis://${CLOSED}` });
    const run = await titan(['--config', env.file, 'backup'], { TEMPORAL_ADDRESS: CLOSED });
    assert.equal(run.code, 1);
    assert.equal(run.stderr, `titan: cannot reach Temporal at ${CLOSED} (is the stack up? npm run stack -- status)\n`);
  });

  describe('recoveries that do not exist or already ended', () => {
    let env: TestEnv;
    let worker: { stop(): Promise<void> };
    before(async () => {
      env = writeTestEnvironment({
        redisUrl: `redis://${CLOSED}`,
        docker: { socketPath: dockerSocket },
        recovery: { stages: ['redis'], approvers: { default: ['alice'] } },
      });
      worker = await startWorker(env);
    });
    after(async () => worker?.stop());

    it('titan status and titan sign-off with no recovery at all say so, and how to start one', async () => {
      const expected = `titan: no recovery of environment ${env.environment} is running (start one with titan recover)\n`;
      const status = await titan(['--config', env.file, 'status']);
      assert.equal(status.code, 1);
      assert.equal(status.stderr, expected);
      const signOff = await titan(['--config', env.file, 'sign-off', '--stage', 'redis', '--approve', '--by', 'alice']);
      assert.equal(signOff.code, 1);
      assert.equal(signOff.stderr, expected);
    });

    it('a sign-off after the recovery ended is refused like the others, pointing at the report', async () => {
      const id = WorkflowId.recovery(env.loaded.env);
      // The redis stage fails (there is no backup), so the recovery waits; rejecting it ends it.
      const recover = await titan(['--config', env.file, 'recover']);
      assert.equal(recover.code, 0, recover.stderr);
      assert.match(recover.stdout, /stage redis \(attempt 1\) waits for a sign-off from alice/);
      const reject = await titan(['--config', env.file, 'sign-off', '--stage', 'redis', '--reject', '--by', 'alice']);
      assert.equal(reject.code, 0, reject.stderr);
      await until('the recovery to end', async () => (await client.workflow.getHandle(id).describe()).status.name !== 'RUNNING');
      const late = await titan(['--config', env.file, 'sign-off', '--stage', 'redis', '--retry', '--by', 'alice']);
      assert.equal(late.code, 1);
      assert.equal(late.stderr, `titan: sign-off refused: recovery ${id} already failed (see titan report ${id})\n`);
    });
  });

  describe('retries are visible (the primary location down)', () => {
    let env: TestEnv;
    let worker: ChildProcess;
    const refused = 'connect ECONNREFUSED 127.0.0.1:8399';
    before(async () => {
      // A Redis that is down (its process not running) and a primary location nothing listens on.
      const dir = mkdtempSync(path.join(os.tmpdir(), 'titan-retry-'));
      mkdirSync(path.join(dir, 'data'));
      writeFileSync(path.join(dir, 'redis.conf'), `dir ${dir}/data\n`);
      const written = writeTestEnvironment({
        instances: { main: { url: `redis://${CLOSED}`, runAs: { process: { pidFile: path.join(dir, 'redis.pid'), configFile: path.join(dir, 'redis.conf') } }, dataDir: path.join(dir, 'data') } },
        offsite: false,
        recovery: { stages: ['redis'], approvers: { default: ['alice'] } },
      });
      const doc = parse(readFileSync(written.file, 'utf8'));
      doc.backups.locations.primary.s3.endpoint = `http://${CLOSED}`;
      writeFileSync(written.file, stringify(doc));
      env = { ...written, loaded: loadEnvironment(written.file) };
      // The real worker entry point: its bundle carries the workflow interceptor module too.
      worker = spawnWorker(env);
      await until('the worker to poll', async () => workerPolls(client, env.taskQueue), 60_000);
    });
    after(async () => {
      worker?.kill('SIGTERM');
      if (worker && worker.exitCode === null) await once(worker, 'exit');
    });

    it('titan backup: the progress line and the Web UI\'s current details show the attempt and the last failure', async () => {
      const run = titanInBackground(['--config', env.file, 'backup']);
      try {
        const line = new RegExp(`checkBackupLocations — attempt (\\d+): primary location unreachable: ${refused}`);
        await until('the retry on the progress line', async () => line.test(run.out.stderr), 60_000)
          .catch((err: Error) => assert.fail(`${err.message}; stderr: ${run.out.stderr}`));
        assert.ok(Number(line.exec(run.out.stderr)![1]) >= 2);
        const workflowId = /^backup workflow (\S+) started$/m.exec(run.out.stderr)![1]!;
        const details = await until('the retry in the current details', async () => {
          const d = await currentDetails(client, workflowId);
          return /attempt \d+: primary location unreachable/.test(d) ? d : undefined;
        }, 30_000);
        assert.match(details, new RegExp(`^Checking the backup locations for \\*\\*\\S+\\*\\*\\n\\n\\*\\*Retrying\\*\\* \`checkBackupLocations\`: attempt \\d+: primary location unreachable: ${refused}$`));
        await client.workflow.getHandle(workflowId).terminate('test done');
      } finally {
        run.kill();
      }
    });

    it('titan status and titan recover show the running stage\'s retrying activity, its attempt and last failure', async () => {
      const recover = titanInBackground(['--config', env.file, 'recover']);
      try {
        const retrying = new RegExp(`^stage redis: listRestoreCandidates attempt \\d+: no backup location is reachable: primary: ${refused}$`, 'm');
        const status = await until('the retry in titan status', async () => {
          const s = await titan(['--config', env.file, 'status']);
          return retrying.test(s.stdout) ? s : undefined;
        }, 60_000);
        assert.equal(status.code, 0);
        const json = JSON.parse((await titan(['--config', env.file, '--json', 'status'])).stdout);
        assert.equal(json.retrying[0].stage, 'redis');
        assert.match(json.retrying[0].note, /^attempt \d+: no backup location is reachable/);
        // titan recover, following the recovery, prints the same line.
        await until('the retry in titan recover', async () => retrying.test(recover.out.stderr), 30_000)
          .catch((err: Error) => assert.fail(`${err.message}; stderr: ${recover.out.stderr}`));
      } finally {
        recover.kill();
        await client.workflow.getHandle(WorkflowId.recovery(env.loaded.env)).terminate('test done').catch(() => undefined);
      }
    });
  });

  describe('misspelt keys and paths as given', () => {
    const badFile = () => {
      const env = writeTestEnvironment({ redisUrl: `redis://${CLOSED}` });
      const doc = parse(readFileSync(env.file, 'utf8'));
      doc.redis.main.dataDri = doc.redis.main.dataDir;
      delete doc.redis.main.dataDir;
      const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'titan-bad-')), 'titan.yaml');
      writeFileSync(file, stringify(doc));
      return file;
    };

    it('names the misspelt key as written with the intended one, under the path the user gave (absolute stays absolute)', async () => {
      const file = badFile();
      const expected = (shown: string) => `titan: ${shown}: redis.main: unknown key "dataDri" (did you mean "dataDir"?)\n`;
      const absolute = await titan(['--config', file, 'backups', 'list']);
      assert.equal(absolute.code, 1);
      assert.equal(absolute.stderr, expected(file));
      const fromEnv = await titan(['backups', 'list'], { TITAN_CONFIG: file });
      assert.equal(fromEnv.stderr, expected(file));
      const relative = path.relative(process.cwd(), file);
      assert.equal((await titan(['--config', relative, 'backups', 'list'])).stderr, expected(relative));
    });
  });
});
