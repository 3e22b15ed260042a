// restoreModules on the stack's real Kubernetes control plane (kwok nodes) for what a Deployment
// does not show: a StatefulSet rolled back through its ControllerRevisions, and images restored by
// the digest recorded for them even when their tag was moved in the private registry since.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import type { Client } from '@temporalio/client';
import type { RestoreModulesResult } from '../../src/workflows/module-restore';
import { ErrorType } from '../../src/lib/errors';
import { failureOf } from '../helpers/backups';
import { titan } from '../helpers/cli';
import { MODULE_IMAGE as IMAGE, kubeconfig, kubectlBin, kubectlIn, tagModuleImage } from '../helpers/kubernetes';
import { temporalClient, uniqueName } from '../helpers/stack';
import { type TestEnv, writeTestEnvironment } from '../helpers/titan-env';
import { startWorker } from '../helpers/worker';

describe('restoreModules on Kubernetes: StatefulSet rollback and pinned digests (kwok nodes)', function () {
  let client: Client;
  let ns: string;
  let env: TestEnv;
  let worker: { stop(): Promise<void> };
  // A tag of this run only, moved by the pinned-digest test.
  const tag = uniqueName('pin').toLowerCase();
  let recordedDigest: string;
  const kubectl = (...args: string[]) => kubectlIn(ns, undefined, ...args);
  const get = (kind: string, name: string) => JSON.parse(kubectl('get', kind, name, '-o', 'json'));
  const restore = (): Promise<RestoreModulesResult> =>
    client.workflow.execute('restoreModules', { taskQueue: env.taskQueue, workflowId: uniqueName('k8s-sts'), args: [{}] });
  const pod = { containers: [{ name: 'module', image: IMAGE(tag) }], nodeSelector: { type: 'kwok' } };
  // db (a StatefulSet) ← app (a Deployment that depends on it)
  const manifests = [
    { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'db' }, spec: { replicas: 2, serviceName: 'db', selector: { matchLabels: { app: 'db' } }, template: { metadata: { labels: { app: 'db' } }, spec: pod } } },
    { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'app', annotations: { 'titan.io/depends-on': 'db' } }, spec: { replicas: 1, selector: { matchLabels: { app: 'app' } }, template: { metadata: { labels: { app: 'app' } }, spec: pod } } },
  ];

  before(async function () {
    this.timeout(240_000);
    client = await temporalClient();
    recordedDigest = await tagModuleImage('1', tag);
    ns = uniqueName('sts').toLowerCase();
    execFileSync(kubectlBin, ['--kubeconfig', kubeconfig, 'create', 'namespace', ns]);
    for (const m of manifests) kubectlIn(ns, JSON.stringify(m), 'apply', '-f', '-');
    kubectl('rollout', 'status', 'statefulset/db', '--timeout=120s');
    kubectl('rollout', 'status', 'deployment/app', '--timeout=120s');
    env = writeTestEnvironment({
      redisUrl: 'redis://127.0.0.1:1',
      modules: {
        kubernetes: { kubeconfig, namespace: ns, workloads: ['statefulset/db', 'deployment/app'] },
        registry: { address: '127.0.0.1:5000', usernameEnv: 'TITAN_REGISTRY_USER', passwordEnv: 'TITAN_REGISTRY_PASSWORD' },
        // a StatefulSet has no progress deadline of its own: this is its deadline
        healthDeadline: '20s',
      },
    });
    const recorded = await titan(['--config', env.file, '--json', 'modules', 'record']);
    assert.equal(recorded.code, 0, recorded.stderr);
    const records = JSON.parse(recorded.stdout) as { service: string; digests: Record<string, string> }[];
    assert.deepEqual(records.map((r) => [r.service, r.digests.module]), [['db', recordedDigest], ['app', recordedDigest]]);
    worker = await startWorker(env);
  });
  after(async () => {
    await worker?.stop();
    if (ns) execFileSync(kubectlBin, ['--kubeconfig', kubeconfig, 'delete', 'namespace', ns, '--wait=false']);
    await client?.connection.close();
  });

  it('a tag moved in the registry since the record: restore deploys the recorded digest, not what the tag names now, and status reads it as the recorded image', async function () {
    this.timeout(120_000);
    const moved = await tagModuleImage('2', tag);
    assert.notEqual(moved, recordedDigest, 'titan/module:2 is other bytes than titan/module:1');
    kubectl('set', 'image', 'statefulset/db', `module=${IMAGE('bad')}`);
    const result = await restore();
    assert.deepEqual(result.outcomes.map((o) => [o.service, o.action]), [['db', 'redeployed']]);
    const db = get('statefulset', 'db');
    assert.equal(db.spec.template.spec.containers[0].image, `${IMAGE(tag)}@${recordedDigest}`);
    assert.equal(db.status.readyReplicas, 2);
    assert.equal(db.status.currentRevision, db.status.updateRevision);
    const status = await titan(['--config', env.file, '--json', 'modules', 'status']);
    assert.equal(status.code, 0, status.stdout);
    // A pinned digest the registry no longer knows is refused before anything changes.
    const cm = get('configmap', 'titan-last-known-good');
    const good = JSON.parse(cm.data.db);
    const gone = `sha256:${'0'.repeat(64)}`;
    good.manifest.spec.template.spec.containers[0].image = IMAGE(tag);
    good.images.module = IMAGE(tag);
    good.digests.module = gone;
    cm.data.db = JSON.stringify(good);
    kubectlIn(ns, JSON.stringify(cm), 'replace', '-f', '-');
    const generation = get('statefulset', 'db').metadata.generation;
    const f = await failureOf(restore());
    assert.equal(f.type, ErrorType.ImageNotFound);
    assert.match(f.message, new RegExp(`image 127\\.0\\.0\\.1:5000/titan/module:${tag}@${gone} is not in the private registry`));
    assert.equal(get('statefulset', 'db').metadata.generation, generation, 'db left as it was');
    good.digests.module = recordedDigest;
    const back = get('configmap', 'titan-last-known-good');
    back.data.db = JSON.stringify(good);
    kubectlIn(ns, JSON.stringify(back), 'replace', '-f', '-');
  });

  it('a recorded StatefulSet revision that never becomes ready: rolled back to the previous ControllerRevision, "rollout exceeded its progress deadline", its dependent skipped', async function () {
    this.timeout(240_000);
    const cm = get('configmap', 'titan-last-known-good');
    const good = JSON.parse(cm.data.db);
    good.manifest.spec.template.metadata.labels['titan.io/kwok-readiness'] = 'never';
    cm.data.db = JSON.stringify(good);
    kubectlIn(ns, JSON.stringify(cm), 'replace', '-f', '-');
    kubectl('set', 'image', 'statefulset/db', `module=${IMAGE('2')}`);
    kubectl('rollout', 'status', 'statefulset/db', '--timeout=60s');
    kubectl('set', 'image', 'deployment/app', `module=${IMAGE('2')}`);
    kubectl('rollout', 'status', 'deployment/app', '--timeout=60s');
    const previous = get('statefulset', 'db');
    const revisions = JSON.parse(kubectl('get', 'controllerrevisions', '-o', 'json')).items as { metadata: { name: string }; revision: number }[];
    const previousRevision = revisions.find((r) => r.metadata.name === previous.status.updateRevision)!.revision;
    const appBefore = get('deployment', 'app');

    const f = await failureOf(restore());
    assert.equal(f.type, ErrorType.ModuleRestoreFailed);
    assert.match(f.message, new RegExp(`db failed \\(rollout exceeded its progress deadline \\(modules\\.healthDeadline, 20s: .*\\); rolled back to revision ${previousRevision} after deleting pod\\(s\\) db-1, stuck not ready on the failed revision`));
    assert.doesNotMatch(f.message, /did not complete either/);
    assert.match(f.message, /app skipped \(not redeployed: db failed\)/);
    const db = get('statefulset', 'db');
    assert.equal(db.spec.template.spec.containers[0].image, IMAGE('2'), 'back on the previous revision');
    assert.equal(db.spec.template.metadata.labels['titan.io/kwok-readiness'], undefined);
    assert.equal(db.status.updateRevision, previous.status.updateRevision, 'the previous ControllerRevision, not a new one');
    assert.equal(db.status.currentRevision, db.status.updateRevision);
    assert.equal(db.status.readyReplicas, 2);
    const app = get('deployment', 'app');
    assert.equal(app.metadata.generation, appBefore.metadata.generation, 'the dependent was left as it was');
  });
});
