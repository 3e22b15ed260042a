// The stepProgress Query of the workflows whose steps count no bytes, on the time-skipping server:
// the real workflows, stub activities. Each stub asks the Query while it runs, so the test sees
// what the CLI's bar would have drawn at every step, including the steps a rollback and a
// restart add to the plan.
import assert from 'node:assert/strict';
import { Context } from '@temporalio/activity';
import { QueryNotRegisteredError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { stepProgressQuery } from '../../src/lib/messages';
import type { ModuleInventory, ModuleStatus } from '../../src/lib/module-state';
import { timeSkippingEnvironment } from '../helpers/time-skipping';

const TASK_QUEUE = 'step-progress-test';
const COMMIT = 'c'.repeat(40);

const moduleStatus = (service: string, failed: boolean): ModuleStatus => ({
  service, failed, state: failed ? 'exited' : 'healthy', reason: failed ? 'exited (1)' : '', desiredImage: 'registry/m:2', imageId: `sha256:${service}`,
});

describe('stepProgress: steps settled of steps known (time-skipping server, stub activities)', function () {
  let env: TestWorkflowEnvironment;
  let worker: Worker;
  let running: Promise<void>;
  const seen: string[] = [];
  let verifiesOfApi = 0;

  /** What the Query answered while `activity` ran. */
  async function record(activity: string): Promise<void> {
    const id = Context.current().info.workflowExecution!.workflowId;
    const p = await env.client.workflow.getHandle(id).query(stepProgressQuery).catch((err) => {
      if (err instanceof QueryNotRegisteredError) return undefined;
      throw err;
    });
    seen.push(`${activity}: ${p ? `${p.done}/${p.total}` : 'no stepProgress Query'}`);
  }

  before(async function () {
    this.timeout(180_000);
    env = await timeSkippingEnvironment();
    const inventory: ModuleInventory = {
      project: 'p',
      // api and web failed (web depends on api); cache is healthy but restarts with api.
      modules: [moduleStatus('api', true), moduleStatus('web', true), moduleStatus('cache', false)],
      waves: [['api'], ['web']],
      dependsOn: { api: [], web: ['api'], cache: ['api'] },
      restartedWith: { api: ['cache'] },
    };
    const activities = {
      async inspectModules() { await record('inspect'); return inventory; },
      async pullModuleImage() { await record('pull'); return 'sha256:new'; },
      async redeployModule(r: { service: string; image: string }) { await record(`redeploy ${r.service} ${r.image}`); return `ctr-${r.service}`; },
      async verifyModule(r: { service: string }) {
        await record(`verify ${r.service}`);
        // api's new image fails its check once: the rollback to the image it ran is verified next.
        const healthy = r.service !== 'api' || ++verifiesOfApi > 1;
        return { service: r.service, healthy, problems: healthy ? [] : ['health check failing'] };
      },
      async restartModule(r: { service: string }) { await record(`restart ${r.service}`); return { containerId: `ctr-${r.service}`, image: 'registry/c:1' }; },
      async chooseConfig() { await record('choose'); return { commit: COMMIT, ref: 'main', subject: 'raise limits', skipped: [] }; },
      async applyConfigKeys() { await record('keys'); return { set: [], deleted: [] }; },
      async renderConfigFiles() { await record('files'); return { written: ['app.conf'], removed: [], restart: ['web'] }; },
      async restartConfiguredModules() { await record('restart'); return ['web']; },
      async runConfigScripts() { await record('scripts'); return []; },
      async checkConfig() { await record('check'); return { drift: [] }; },
      async recordConfigFiles() { await record('record'); },
      async identifyLogSources() {
        await record('sources');
        return { store: 'store', retentionDays: 35, minRetentionDays: 30, modules: ['api', 'web'].map((module) => ({ module, containers: [] })) };
      },
      async pauseLogShipping() { await record('pause'); return true; },
      async shipModuleLogs(r: { module: string; since?: string }) { await record(`ship ${r.module}${r.since === undefined ? ' backfill' : ''}`); return { module: r.module, read: 1, shipped: 1, alreadyStored: 0 }; },
      async writeLogCanary(r: { module: string }) { await record(`canary ${r.module}`); return { container: 'c', time: '2026-12-06T00:00:01.000000000Z' }; },
      async verifyModuleLogs(r: { module: string }) {
        await record(`verify ${r.module}`);
        return { module: r.module, until: '2026-12-06T00:00:01.000000000Z', sourceLines: 2, storedLines: 2, distinctStored: 2, missing: [], minutes: [], canaryFound: true };
      },
      async resumeLogShipping() { await record('resume'); },
    };
    worker = await Worker.create({ connection: env.nativeConnection, namespace: env.namespace, taskQueue: TASK_QUEUE, workflowsPath: require.resolve('../../src/workflows'), activities });
    running = worker.run();
  });

  after(async function () {
    this.timeout(60_000);
    worker?.shutdown();
    await running;
    await env?.teardown();
  });

  beforeEach(() => { seen.length = 0; });

  it('module restore: one step per image pulled and per module settled; a rollback adds none, a dependent\'s restart adds one', async () => {
    const h = await env.client.workflow.start('restoreModules', { taskQueue: TASK_QUEUE, workflowId: 'modules-progress', args: [{}] });
    // A rollback is not a restore to the good image: the workflow fails, having settled every step.
    await assert.rejects(h.result(), (err: Error) => /api rolled back \(health check failing\)/.test((err.cause as Error).message));
    assert.deepEqual(seen, [
      'inspect: 0/0', // nothing known yet: the CLI draws the phase alone
      'pull: 0/3', // one image, two failed modules
      'redeploy api registry/m:2: 1/3',
      'verify api: 1/3',
      'redeploy api sha256:api: 1/3', // the rollback: still api's step
      'verify api: 1/3',
      'redeploy web registry/m:2: 2/3',
      'verify web: 2/3',
      'restart cache: 3/4',
      'verify cache: 3/4',
    ]);
    assert.deepEqual(await h.query(stepProgressQuery), { done: 4, total: 4 }, 'every step settled once the restore ended');
  });

  it('config re-sync: five steps known at the start, the restart and the record added when they come', async () => {
    const h = await env.client.workflow.start('resyncConfig', { taskQueue: TASK_QUEUE, workflowId: 'config-progress', args: [{}] });
    await h.result();
    assert.deepEqual(seen, [
      'choose: 0/5', 'keys: 1/5', 'files: 2/5', 'restart: 3/6', 'scripts: 4/6', 'check: 5/6', 'record: 6/7',
    ]);
    assert.deepEqual(await h.query(stepProgressQuery), { done: 7, total: 7 });
  });

  it('log resumption: four steps per module (backfill, canary, ship to it, verify), known once the sources are', async () => {
    const h = await env.client.workflow.start('resumeLogs', { taskQueue: TASK_QUEUE, workflowId: 'logs-progress', args: [{}] });
    await h.result();
    assert.deepEqual(seen, [
      'sources: 0/0', 'pause: 0/0',
      'ship api backfill: 0/8', 'canary api: 1/8', 'ship api: 2/8', 'verify api: 3/8',
      'ship web backfill: 4/8', 'canary web: 5/8', 'ship web: 6/8', 'verify web: 7/8',
      'resume: 8/8',
    ]);
  });

  it('a workflow that counts no steps (the scheduled shipment) answers QueryNotRegisteredError: the CLI stops asking and draws bytes', async () => {
    const h = await env.client.workflow.start('shipLogs', { taskQueue: TASK_QUEUE, workflowId: 'ship-progress', args: [{}] });
    await h.result();
    assert.deepEqual(seen, ['sources: no stepProgress Query', 'ship api backfill: no stepProgress Query', 'ship web backfill: no stepProgress Query']);
    await assert.rejects(h.query(stepProgressQuery), QueryNotRegisteredError);
  });
});
