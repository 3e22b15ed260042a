// A DR drill with a Kubernetes modules stage against the stack's real control plane (kwok nodes):
// the sandbox is a namespace beside production's, created with a copy of production's last known
// good records; the drill's recovery finds every module missing there, recreates them in dependency
// order, waits for their rollouts, verifies and signs off; the namespace is deleted when the drill
// ends. Production's namespace is only read. Only the apiserver on 127.0.0.1 is contacted.
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import type { Client } from '@temporalio/client';
import { DRILL_SIGNER } from '../../src/lib/drill';
import { ErrorType } from '../../src/lib/errors';
import type { RecoveryReport } from '../../src/lib/recovery-report';
import { failureOf } from '../helpers/backups';
import { titan } from '../helpers/cli';
import { MODULE_IMAGE, kubeconfig, kubectlBin, kubernetesModulesSection, moduleDeployment } from '../helpers/kubernetes';
import { temporalClient, uniqueName } from '../helpers/stack';
import { type TestEnv, writeTestEnvironment } from '../helpers/titan-env';
import { startWorker } from '../helpers/worker';

// store ← api ← web (titan.io/depends-on)
const DEPENDS: Record<string, string[]> = { store: [], api: ['store'], web: ['api'] };

describe('DR drill with a Kubernetes modules stage (real control plane, kwok nodes)', function () {
  let client: Client;
  let prod: string;
  let sandboxNs: string;
  let env: TestEnv;
  let worker: { stop(): Promise<void> };
  const kubectl = (...args: string[]) => execFileSync(kubectlBin, ['--kubeconfig', kubeconfig, ...args], { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
  const namespaceExists = (ns: string) => {
    try {
      kubectl('get', 'namespace', ns, '-o', 'name');
      return true;
    } catch (err) {
      if (/NotFound/.test((err as { stderr?: string }).stderr ?? '')) return false;
      throw err;
    }
  };
  /** Every object of production's namespace Titan could touch, with its resourceVersion. */
  const production = () => JSON.parse(kubectl('-n', prod, 'get', 'deployments,replicasets,configmaps,secrets', '-o', 'json')).items
    .map((o: { kind: string; metadata: { name: string; resourceVersion: string } }) => `${o.kind}/${o.metadata.name}@${o.metadata.resourceVersion}`).sort();
  const drill = (workflowId = uniqueName('k8s-drill')): Promise<RecoveryReport> =>
    client.workflow.execute('recoveryDrill', { taskQueue: env.taskQueue, workflowId, args: [{}] });
  /** Watches the sandbox namespace's Deployments from before the drill: the apiserver's events, in order. */
  const watchSandbox = () => {
    const lines: string[] = [];
    const p: ChildProcess = spawn(kubectlBin, ['--kubeconfig', kubeconfig, '-n', sandboxNs, 'get', 'deployments', '--watch', '--output-watch-events',
      '-o', 'jsonpath={.type} {.object.metadata.name} {.object.status.readyReplicas}{"\\n"}']);
    let buf = '';
    p.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const parts = buf.split('\n');
      buf = parts.pop()!;
      lines.push(...parts.filter(Boolean));
    });
    return { lines, stop: () => p.kill() };
  };
  const manifest = (name: string) => moduleDeployment(name, DEPENDS[name]!, { image: MODULE_IMAGE('1'), progressDeadlineSeconds: 30 });

  before(async function () {
    this.timeout(240_000);
    client = await temporalClient();
    prod = uniqueName('drillk8s').toLowerCase();
    sandboxNs = `${prod}-drill`;
    kubectl('create', 'namespace', prod);
    // Listed in reverse: the drill's order must come from titan.io/depends-on, not from here.
    for (const name of Object.keys(DEPENDS).reverse()) execFileSync(kubectlBin, ['--kubeconfig', kubeconfig, '-n', prod, 'apply', '-f', '-'], { input: JSON.stringify(manifest(name)) });
    for (const name of Object.keys(DEPENDS)) kubectl('-n', prod, 'rollout', 'status', `deployment/${name}`, '--timeout=120s');
    env = writeTestEnvironment({
      redisUrl: 'redis://127.0.0.1:1',
      modules: kubernetesModulesSection(prod),
      recovery: { stages: ['modules'], approvers: { default: ['alice'] }, drill: { modules: { kubernetes: { namespace: sandboxNs } } } },
    });
    const recorded = await titan(['--config', env.file, 'modules', 'record']);
    assert.equal(recorded.code, 0, recorded.stderr);
    worker = await startWorker(env);
  });
  after(async () => {
    await worker?.stop();
    for (const ns of [prod, sandboxNs]) if (ns && namespaceExists(ns)) kubectl('delete', 'namespace', ns, '--wait=false');
    await client?.connection.close();
  });

  it('signed off as titan-drill: the sandbox namespace gets every Deployment, in dependency order, ready; production untouched; the namespace is gone after', async function () {
    this.timeout(300_000);
    const before = production();
    const watch = watchSandbox();
    let report: RecoveryReport;
    try {
      report = await drill();
    } finally {
      watch.stop();
    }
    assert.equal(report.outcome, 'completed', report.problems.join('; '));
    assert.deepEqual(report.stages.map((s) => [s.name, s.state, s.signOffs.map((o) => `${o.decision} by ${o.by}`).join()]), [['modules', 'approved', `approve by ${DRILL_SIGNER}`]]);
    assert.ok(report.drill?.cleanedUp?.includes(`namespace ${sandboxNs}`), report.drill?.cleanedUp?.join('; '));

    // The apiserver's own order of events in the sandbox: each Deployment added only once what it
    // depends on had all its replicas ready.
    const added = watch.lines.filter((l) => l.startsWith('ADDED ')).map((l) => l.split(' ')[1]);
    assert.deepEqual(added, ['store', 'api', 'web'], watch.lines.join('\n'));
    const readyAt = (name: string) => watch.lines.findIndex((l) => l === `MODIFIED ${name} 2`);
    for (const [name, deps] of Object.entries(DEPENDS)) {
      assert.ok(readyAt(name) >= 0, `${name} became ready in the sandbox:\n${watch.lines.join('\n')}`);
      for (const d of deps) assert.ok(readyAt(d) < watch.lines.indexOf(`ADDED ${name} `), `${d} ready before ${name} was created`);
    }

    assert.deepEqual(production(), before, "production's Deployments, ReplicaSets, ConfigMap and Secrets: same resourceVersions");
    assert.equal(namespaceExists(sandboxNs), false, 'the sandbox namespace is gone');
  });

  it('a namespace of the sandbox\'s name that is not labelled a drill sandbox: refused, and left as it was', async function () {
    this.timeout(120_000);
    kubectl('create', 'namespace', sandboxNs);
    kubectl('-n', sandboxNs, 'create', 'configmap', 'someone-elses', '--from-literal=k=v');
    const f = await failureOf(drill());
    assert.equal(f.type, ErrorType.DrillFailed);
    assert.match(f.message, new RegExp(`namespace ${sandboxNs} exists and is not labelled a Titan drill sandbox: choose another recovery\\.drill\\.modules\\.kubernetes\\.namespace`));
    assert.equal(JSON.parse(kubectl('-n', sandboxNs, 'get', 'configmap', 'someone-elses', '-o', 'json')).data.k, 'v', 'not deleted');
    assert.equal(JSON.parse(kubectl('get', 'namespace', sandboxNs, '-o', 'json')).status.phase, 'Active');
  });
});
