// restoreModules and `titan modules status|record` against the stack's real Kubernetes control plane
// (etcd, kube-apiserver, controller-manager, scheduler; kwok in place of the kubelet): Deployments
// drifted, deleted and never ready, brought back to their recorded good spec in dependency order.
// Only the apiserver on 127.0.0.1 is contacted: no pod, proxy, logs or exec traffic.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import type { Client } from '@temporalio/client';
import type { RecoveryReport, RecoveryStatus } from '../../src/lib/recovery-report';
import type { RestoreModulesResult } from '../../src/workflows/module-restore';
import { ErrorType } from '../../src/lib/errors';
import { failureOf } from '../helpers/backups';
import { titan } from '../helpers/cli';
import { MODULE_IMAGE as IMAGE, kubeconfig, kubectlBin, kubectlIn as kubectlInNs, kubernetesModulesSection, moduleDeployment } from '../helpers/kubernetes';
import { temporalClient, uniqueName } from '../helpers/stack';
import { type TestEnv, writeTestEnvironment } from '../helpers/titan-env';
import { until } from '../helpers/wait';
import { startWorker } from '../helpers/worker';

// store ← api ← web (titan.io/depends-on)
const DEPENDS: Record<string, string[]> = { store: [], api: ['store'], web: ['api'] };

describe('restoreModules on a real Kubernetes control plane (kwok nodes)', function () {
  let client: Client;
  let ns: string;
  let env: TestEnv;
  let worker: { stop(): Promise<void> };
  let recordedDigest: string;
  const kubectl = (...args: string[]) => kubectlInNs(ns, undefined, ...args);
  const kubectlIn = (input: string, ...args: string[]) => kubectlInNs(ns, input, ...args);
  const deployment = (name: string) => JSON.parse(kubectl('get', 'deployment', name, '-o', 'json'));
  const image = (name: string) => deployment(name).spec.template.spec.containers[0].image as string;
  const restore = (): Promise<RestoreModulesResult> =>
    client.workflow.execute('restoreModules', { taskQueue: env.taskQueue, workflowId: uniqueName('k8s-modules'), args: [{}] });
  const manifest = (name: string) => moduleDeployment(name, DEPENDS[name]!, { image: IMAGE('1'), progressDeadlineSeconds: 10 });

  before(async function () {
    this.timeout(240_000);
    client = await temporalClient();
    ns = uniqueName('mods').toLowerCase();
    execFileSync(kubectlBin, ['--kubeconfig', kubeconfig, 'create', 'namespace', ns]);
    for (const name of Object.keys(DEPENDS)) kubectlIn(JSON.stringify(manifest(name)), 'apply', '-f', '-');
    for (const name of Object.keys(DEPENDS)) kubectl('rollout', 'status', `deployment/${name}`, '--timeout=120s');
    env = writeTestEnvironment({
      redisUrl: 'redis://127.0.0.1:1',
      modules: kubernetesModulesSection(ns),
      recovery: { stages: ['modules'], approvers: { default: ['alice'] } },
    });
    const unrecorded = await titan(['--config', env.file, '--json', 'modules', 'status']);
    assert.equal(unrecorded.code, 0, unrecorded.stderr);
    assert.match(unrecorded.stdout, /no good revision recorded yet/);
    const recorded = await titan(['--config', env.file, '--json', 'modules', 'record']);
    assert.equal(recorded.code, 0, recorded.stderr);
    const records = JSON.parse(recorded.stdout) as { service: string; images: Record<string, string>; digests: Record<string, string> }[];
    assert.deepEqual(records.map((r) => r.service), ['api', 'store', 'web']);
    assert.match(records[0]!.digests.module!, /^sha256:[0-9a-f]{64}$/, 'the image digest from the private registry');
    recordedDigest = records[0]!.digests.module!;
    worker = await startWorker(env);
  });
  after(async () => {
    await worker?.stop();
    if (ns) execFileSync(kubectlBin, ['--kubeconfig', kubeconfig, 'delete', 'namespace', ns, '--wait=false']);
    await client?.connection.close();
  });

  it('a kubeconfig that cannot be read, a context it lacks: one clear error naming the field', async () => {
    const bad = (kubernetes: Record<string, unknown>) => writeTestEnvironment({
      redisUrl: 'redis://127.0.0.1:1',
      modules: { kubernetes: { namespace: ns, selector: 'titan.io/module=true', ...kubernetes }, registry: { address: '127.0.0.1:5000', usernameEnv: 'TITAN_REGISTRY_USER', passwordEnv: 'TITAN_REGISTRY_PASSWORD' } },
    });
    const missing = await titan(['--config', bad({ kubeconfig: '/nonexistent/kubeconfig' }).file, 'modules', 'status']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /modules\.kubernetes\.kubeconfig: cannot read \/nonexistent\/kubeconfig/);
    const context = await titan(['--config', bad({ kubeconfig, context: 'elsewhere' }).file, 'modules', 'status']);
    assert.equal(context.code, 1);
    assert.match(context.stderr, /modules\.kubernetes\.context: .* has no context "elsewhere"/);
  });

  it('an image changed by hand to a bad tag: status names it (image differs), restore brings back the recorded image and the rollout completes', async () => {
    kubectl('set', 'image', 'deployment/api', `module=${IMAGE('bad')}`);
    const status = await titan(['--config', env.file, '--json', 'modules', 'status', 'api', 'store']);
    assert.equal(status.code, 2, status.stderr);
    const inv = JSON.parse(status.stdout) as { modules: { service: string; state: string; failed: boolean; reason: string }[] };
    const api = inv.modules.find((m) => m.service === 'api')!;
    assert.equal(api.state, 'image differs');
    assert.match(api.reason, /container module runs 127\.0\.0\.1:5000\/titan\/module:bad, recorded good 127\.0\.0\.1:5000\/titan\/module:1/);
    assert.equal(inv.modules.find((m) => m.service === 'store')!.failed, false);
    const storeRevision = deployment('store').metadata.annotations['deployment.kubernetes.io/revision'];

    const result = await restore();
    assert.deepEqual(result.waves, [['api']]);
    assert.deepEqual(result.outcomes.map((o) => [o.service, o.action]), [['api', 'redeployed']]);
    assert.equal(image('api'), `${IMAGE('1')}@${recordedDigest}`, 'the recorded image, pinned to its recorded digest');
    const d = deployment('api');
    assert.equal(d.status.updatedReplicas, 2);
    assert.equal(d.status.readyReplicas, 2);
    assert.equal(d.status.observedGeneration, d.metadata.generation);
    assert.deepEqual(d.spec.template.spec.imagePullSecrets, [{ name: 'titan-registry' }], 'the pull secret Titan manages');
    const secret = JSON.parse(kubectl('get', 'secret', 'titan-registry', '-o', 'json'));
    assert.equal(secret.type, 'kubernetes.io/dockerconfigjson');
    assert.equal(deployment('store').metadata.annotations['deployment.kubernetes.io/revision'], storeRevision, 'store untouched');
    const again = await titan(['--config', env.file, 'modules', 'status']);
    assert.equal(again.code, 0, again.stdout);
  });

  it('deleted Deployments: recreated from the recorded spec, what they depend on first', async () => {
    kubectl('delete', 'deployment', 'store', 'api', '--wait=true');
    const status = await titan(['--config', env.file, 'modules', 'status']);
    assert.equal(status.code, 2);
    assert.match(status.stdout, /store\s+missing/);
    const result = await restore();
    assert.deepEqual(result.waves, [['store'], ['api']]);
    assert.deepEqual(result.outcomes.map((o) => [o.service, o.action]), [['store', 'redeployed'], ['api', 'redeployed']]);
    const [store, api] = [deployment('store'), deployment('api')];
    assert.ok(new Date(store.metadata.creationTimestamp) <= new Date(api.metadata.creationTimestamp), 'store recreated before api');
    assert.equal(api.metadata.annotations['titan.io/depends-on'], 'store');
    assert.equal(api.status.readyReplicas, 2);
  });

  it('the full-disaster recovery with a Kubernetes modules stage: web deleted, recreated, signed off', async function () {
    this.timeout(240_000);
    kubectl('delete', 'deployment', 'web', '--wait=true');
    const cli = (...args: string[]) => titan(['--config', env.file, ...args]);
    const started = await cli('--json', 'recover');
    assert.equal(started.code, 0, started.stderr);
    const handle = client.workflow.getHandle(JSON.parse(started.stdout).workflowId as string);
    await until('stage modules waiting for sign-off', async () => {
      const s = await handle.query<RecoveryStatus>('recoveryStatus');
      return s.waiting?.stage === 'modules' ? s : undefined;
    }, 180_000);
    assert.equal(deployment('web').status.readyReplicas, 2, 'web is back before anyone signs off');
    assert.equal((await cli('sign-off', '--stage', 'modules', '--approve', '--by', 'alice')).code, 0);
    const report: RecoveryReport = await handle.result();
    assert.equal(report.outcome, 'completed');
    assert.deepEqual(report.stages.map((s) => [s.name, s.state]), [['modules', 'approved']]);
    assert.equal((await cli('modules', 'status')).code, 0);
  });

  it('a recorded revision that never becomes ready: rolled back to the previous revision, "rollout exceeded its progress deadline", dependents skipped', async function () {
    this.timeout(240_000);
    // The record says api's good pods carry the label kwok's Stage never makes ready (as if the
    // recorded revision could no longer start); api and web are drifted so both need a restore.
    const cm = JSON.parse(kubectl('get', 'configmap', 'titan-last-known-good', '-o', 'json'));
    const good = JSON.parse(cm.data.api);
    good.manifest.spec.template.metadata.labels['titan.io/kwok-readiness'] = 'never';
    cm.data.api = JSON.stringify(good);
    kubectlIn(JSON.stringify(cm), 'replace', '-f', '-');
    kubectl('set', 'image', 'deployment/api', `module=${IMAGE('2')}`);
    kubectl('set', 'image', 'deployment/web', `module=${IMAGE('2')}`);
    kubectl('rollout', 'status', 'deployment/api', '--timeout=60s');
    const webBefore = deployment('web');

    const f = await failureOf(restore());
    assert.equal(f.type, ErrorType.ModuleRestoreFailed);
    assert.match(f.message, /api failed \(rollout exceeded its progress deadline.*; rolled back to revision \d+\)/);
    assert.match(f.message, /web skipped \(not redeployed: api failed\)/);
    const api = deployment('api');
    assert.equal(api.spec.template.spec.containers[0].image, IMAGE('2'), 'back on the previous revision');
    assert.equal(api.spec.template.metadata.labels['titan.io/kwok-readiness'], undefined);
    assert.equal(api.status.readyReplicas, 2);
    const web = deployment('web');
    assert.equal(web.metadata.generation, webBefore.metadata.generation, 'the dependent was left as it was');
    assert.equal(web.spec.template.spec.containers[0].image, IMAGE('2'));
  });
});
