// Titan's modules on Kubernetes: Deployments and StatefulSets of one namespace, read and changed
// through the apiserver only (no kubelet, pod, proxy or port-forward traffic). Their last known
// good spec lives in a ConfigMap Titan owns; a restore re-applies it, waits on the real rollout
// conditions and, when the rollout exceeds its progress deadline, rolls back to the previous revision.
import { setTimeout as sleep } from 'node:timers/promises';
import { ApplicationFailure } from '@temporalio/common';
import type * as K8s from '@kubernetes/client-node';
import type { KubernetesModulesConfig } from '../lib/config';
import { wavesOf } from '../lib/dependency-waves';
import { ErrorType } from '../lib/errors';
import {
  DEPLOY_ANNOTATION, DEPLOYED_AT_ANNOTATION, type LastKnownGood, type Workload, type WorkloadKind,
  assessWorkload, dependsOnOf, imagesOf, manifestOf, pinnedImages, pinnedManifest, revisionOf, rolloutProgress, verificationProblems,
} from '../lib/kubernetes-workloads';
import type { ModuleInventory, ModuleStatus, ModuleVerification } from '../lib/module-state';
import { ifMissing, type KubernetesApis, kubernetesApis } from './kubernetes-client';
import type { ModuleOrchestrator } from './module-orchestrator';
import type { RegistryAuth } from './module-engine';
import { registryDigest } from './registry-digest';

const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';
const POLL_MS = 1000;

interface Target { kind: WorkloadKind; name: string }

export interface KubernetesModulesOptions {
  /** modules.kubernetes with kubeconfig resolved against the environment file. */
  config: KubernetesModulesConfig;
  auth(): RegistryAuth;
  /** The least a rollout gets before Titan gives up on it (its own progress deadline may be longer). */
  healthDeadlineMs: number;
}

export class KubernetesModules implements ModuleOrchestrator {
  private apis?: Promise<KubernetesApis>;
  private readonly ns: string;

  constructor(private readonly opts: KubernetesModulesOptions) {
    this.ns = opts.config.namespace;
  }

  private client() {
    return (this.apis ??= kubernetesApis(this.opts.config));
  }

  async inventory(services?: string[]): Promise<ModuleInventory> {
    const records = await this.records();
    const all = await this.targets(records);
    const live = new Map(await Promise.all(all.map(async (t) => [t.name, await this.read(t)] as const)));
    const modules: ModuleStatus[] = await Promise.all(this.pick(all, services).map(async (t) => {
      const w = live.get(t.name);
      const good = records[t.name];
      const a = assessWorkload(w, good, w ? await this.currentPods(w) : []);
      return {
        service: t.name, ...a,
        desiredImage: Object.values(good ? pinnedImages(good) : w ? imagesOf(w) : {}).join(', '),
        containerId: `${t.kind.toLowerCase()}/${t.name}${w ? ` revision ${revisionOf(w) ?? '?'}` : ''}`,
        image: w && Object.values(imagesOf(w)).join(', '),
      };
    }));
    const dependsOn = Object.fromEntries(all.map((t) => [t.name, dependsOnOf(live.get(t.name) ?? records[t.name]?.manifest)]));
    const failed = modules.filter((m) => m.failed).map((m) => m.service);
    // No titan.io/depends-on anywhere: the environment file's order is the restore order.
    const annotated = Object.values(dependsOn).some((d) => d.length);
    return { project: `namespace ${this.ns}`, modules, waves: annotated ? wavesOf(dependsOn, failed) : failed.map((f) => [f]), dependsOn };
  }

  /** Kubernetes pulls on the node: Titan checks the private registry still has each image (a pinned one by its digest). */
  async pull(images: string, onProgress: (p: { phase: string }) => void): Promise<string> {
    const auth = this.opts.auth();
    const digests: string[] = [];
    for (const image of images.split(', ').filter(Boolean)) {
      if (!image.startsWith(`${auth.serveraddress}/`)) continue;
      onProgress({ phase: `check ${image} in the registry` });
      const d = await registryDigest(image, auth);
      if (!d) throw ApplicationFailure.nonRetryable(`image ${image} is not in the private registry ${auth.serveraddress}`, ErrorType.ImageNotFound);
      digests.push(d);
    }
    return digests.join(', ');
  }

  async redeploy(req: { service: string; deployTag: string }, onProgress: (phase: string) => void): Promise<string> {
    const records = await this.records();
    const [t] = this.pick(await this.targets(records), [req.service]);
    const good = records[t!.name];
    if (!good) throw ApplicationFailure.nonRetryable(`${this.where(t!)}: no last known good recorded (run titan modules record once it is verified)`, ErrorType.ModuleRestoreFailed);
    await this.ensurePullSecret();
    let w = await this.read(t!);
    if (w?.metadata?.annotations?.[DEPLOY_ANNOTATION] !== req.deployTag) {
      onProgress(`${this.where(t!)}: re-applying the good revision recorded at ${good.recordedAt}, its images pinned to their recorded digests`);
      w = await this.apply(t!, this.withPullSecret(pinnedManifest(good), req.deployTag), w);
    }
    const rollout = await this.waitRollout(t!, w!, onProgress);
    if (rollout.ok) return `${t!.kind.toLowerCase()}/${t!.name} revision ${revisionOf(rollout.w) ?? '?'}`;
    throw ApplicationFailure.nonRetryable(`${rollout.reason}; ${await this.rollBack(t!, onProgress)}`, ErrorType.ModuleRestoreFailed);
  }

  async verify(req: { service: string; deployed: string }, onWait: (state: string) => void): Promise<ModuleVerification> {
    const [t] = this.pick(await this.targets(await this.records()), [req.service]);
    const w = await this.read(t!);
    const out: ModuleVerification = { service: req.service, healthy: false, problems: [] };
    if (!w) return { ...out, problems: [`${this.where(t!)} is missing`] };
    onWait(`${req.deployed}: checking pods and events`);
    const since = new Date(w.metadata?.annotations?.[DEPLOYED_AT_ANNOTATION] ?? w.metadata?.creationTimestamp ?? 0);
    const pods = await this.currentPods(w);
    const { core } = await this.client();
    const events = (await core.listNamespacedEvent({ namespace: this.ns })).items;
    const names = new Set([w.metadata!.name, ...pods.map((p) => p.metadata?.name), ...(await this.replicaSets(w)).map((r) => r.metadata?.name)]);
    out.problems = verificationProblems(w, pods, events.filter((e) => names.has(e.involvedObject.name)), since);
    out.startedAt = since.toISOString();
    out.healthy = out.problems.length === 0;
    if (out.healthy) await this.writeRecord(t!, w);
    return out;
  }

  async record(services?: string[]) {
    const records = await this.records();
    const out = [];
    for (const t of this.pick(await this.targets(records), services)) {
      const w = await this.read(t);
      const a = assessWorkload(w, undefined, w ? await this.currentPods(w) : []);
      if (!w || a.state !== 'healthy') throw ApplicationFailure.nonRetryable(`${this.where(t)} is ${a.state} (${a.reason}): only a healthy workload can be recorded as good`, ErrorType.ModuleRestoreFailed);
      const r = await this.writeRecord(t, w);
      out.push({ service: t.name, revision: r.revision, images: r.images, digests: r.digests });
    }
    return out;
  }

  private where(t: Target) {
    return `${t.kind.toLowerCase()}/${t.name} in namespace ${this.ns}`;
  }

  /** The modules: the listed workloads, or those the selector matches now plus the recorded ones (a deleted one is missing, not gone). */
  private async targets(records: Record<string, LastKnownGood>): Promise<Target[]> {
    const c = this.opts.config;
    if (c.workloads) return c.workloads.map((w) => ({ kind: w.startsWith('deployment/') ? 'Deployment' : 'StatefulSet', name: w.slice(w.indexOf('/') + 1) }));
    const { apps } = await this.client();
    const [d, s] = await Promise.all([
      apps.listNamespacedDeployment({ namespace: this.ns, labelSelector: c.selector }),
      apps.listNamespacedStatefulSet({ namespace: this.ns, labelSelector: c.selector }),
    ]);
    const found = new Map<string, Target>();
    for (const r of Object.values(records)) found.set(r.name, { kind: r.kind, name: r.name });
    for (const [kind, items] of [['Deployment', d.items], ['StatefulSet', s.items]] as const) {
      for (const w of items) {
        const name = w.metadata!.name!;
        if (found.has(name) && found.get(name)!.kind !== kind) throw ApplicationFailure.nonRetryable(`namespace ${this.ns}: a Deployment and a StatefulSet are both named ${name}; list modules.kubernetes.workloads instead`, ErrorType.ConfigInvalid);
        found.set(name, { kind, name });
      }
    }
    return [...found.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  private pick(targets: Target[], services?: string[]): Target[] {
    if (!services?.length) return targets;
    return services.map((s) => targets.find((t) => t.name === s)
      ?? (() => { throw ApplicationFailure.nonRetryable(`no module named "${s}" among the Kubernetes workloads of namespace ${this.ns}`, ErrorType.ModuleUnknown); })());
  }

  private async read(t: Target): Promise<Workload | undefined> {
    const { apps } = await this.client();
    const req = { name: t.name, namespace: this.ns };
    const w = await (t.kind === 'Deployment' ? apps.readNamespacedDeployment(req) : apps.readNamespacedStatefulSet(req)).catch(ifMissing);
    if (w) w.kind = t.kind; // reads leave kind unset
    return w;
  }

  private async apply(t: Target, body: Workload, live: Workload | undefined): Promise<Workload> {
    const { apps } = await this.client();
    if (live) body.metadata = { ...body.metadata, resourceVersion: live.metadata?.resourceVersion };
    const w = t.kind === 'Deployment'
      ? await (live ? apps.replaceNamespacedDeployment({ name: t.name, namespace: this.ns, body }) : apps.createNamespacedDeployment({ namespace: this.ns, body }))
      : await (live ? apps.replaceNamespacedStatefulSet({ name: t.name, namespace: this.ns, body: body as K8s.V1StatefulSet }) : apps.createNamespacedStatefulSet({ namespace: this.ns, body: body as K8s.V1StatefulSet }));
    w.kind = t.kind;
    return w;
  }

  private withPullSecret(manifest: Workload, deployTag: string): Workload {
    const body = structuredClone(manifest);
    body.metadata = { ...body.metadata, namespace: this.ns, annotations: { ...body.metadata?.annotations, [DEPLOY_ANNOTATION]: deployTag, [DEPLOYED_AT_ANNOTATION]: new Date().toISOString() } };
    const pod = body.spec!.template.spec!;
    const secrets = pod.imagePullSecrets ?? [];
    if (!secrets.some((s) => s.name === this.opts.config.pullSecret)) pod.imagePullSecrets = [...secrets, { name: this.opts.config.pullSecret }];
    return body;
  }

  /** Polls the workload until its rollout completes, exceeds its progress deadline or Titan's limit. */
  private async waitRollout(t: Target, w: Workload, onProgress: (phase: string) => void): Promise<{ ok: true; w: Workload } | { ok: false; reason: string }> {
    const own = t.kind === 'Deployment' ? ((w as K8s.V1Deployment).spec?.progressDeadlineSeconds ?? 600) * 1000 + 30_000 : 0;
    const limit = Math.max(own, this.opts.healthDeadlineMs);
    const deadline = Date.now() + limit;
    for (;;) {
      const now = await this.read(t);
      if (!now) return { ok: false, reason: `${this.where(t)} was deleted during its rollout` };
      const p = rolloutProgress(now);
      onProgress(`${this.where(t)}: ${p.waiting}`);
      if (p.complete) return { ok: true, w: now };
      if (p.stuck) return { ok: false, reason: p.stuck };
      if (Date.now() > deadline) {
        // A StatefulSet has no progress deadline of its own: modules.healthDeadline is its deadline.
        return { ok: false, reason: t.kind === 'StatefulSet'
          ? `rollout exceeded its progress deadline (modules.healthDeadline, ${Math.round(limit / 1000)}s: ${p.waiting})`
          : `rollout did not complete within ${Math.round(limit / 1000)}s: ${p.waiting}` };
      }
      await sleep(POLL_MS);
    }
  }

  /**
   * Like `kubectl rollout undo`: the pod template of the previous revision (a Deployment's newest
   * older ReplicaSet, a StatefulSet's newest older ControllerRevision) goes back into the workload.
   */
  private async rollBack(t: Target, onProgress: (phase: string) => void): Promise<string> {
    const w = await this.read(t);
    if (!w) return 'not rolled back (the workload is gone)';
    const previous = await this.previousRevision(w);
    if (!previous) return 'no previous revision to roll back to';
    onProgress(`${this.where(t)}: rolling back to revision ${previous.revision}`);
    const body = structuredClone(w);
    body.spec!.template = previous.template;
    const applied = await this.apply(t, body, body);
    const released = t.kind === 'StatefulSet' ? await this.releaseStuckPods(t, applied, (w as K8s.V1StatefulSet).status!.updateRevision!, onProgress) : [];
    const back = await this.waitRollout(t, applied, onProgress);
    const deleted = released.length ? ` after deleting pod(s) ${released.join(', ')}, stuck not ready on the failed revision (a StatefulSet does not replace them itself)` : '';
    return `rolled back to revision ${previous.revision}${deleted}${back.ok ? '' : ` (which did not complete either: ${back.reason})`}`;
  }

  private async previousRevision(w: Workload): Promise<{ revision: number; template: K8s.V1PodTemplateSpec } | undefined> {
    if (w.kind === 'Deployment') {
      const current = Number(revisionOf(w) ?? 0);
      const rs = (await this.replicaSets(w))
        .map((r) => ({ revision: Number(r.metadata?.annotations?.[REVISION_ANNOTATION] ?? 0), template: structuredClone(r.spec!.template!) }))
        .filter((r) => r.revision < current).sort((a, b) => b.revision - a.revision)[0];
      delete rs?.template.metadata?.labels?.['pod-template-hash'];
      return rs;
    }
    const { apps } = await this.client();
    const owned = (await apps.listNamespacedControllerRevision({ namespace: this.ns, labelSelector: selectorOf(w) })).items
      .filter((r) => r.metadata?.ownerReferences?.some((o) => o.uid === w.metadata?.uid));
    const current = owned.find((r) => r.metadata?.name === (w as K8s.V1StatefulSet).status?.updateRevision)?.revision ?? Number.MAX_SAFE_INTEGER;
    const cr = owned.filter((r) => r.revision < current).sort((a, b) => b.revision - a.revision)[0];
    return cr && { revision: cr.revision, template: templateOfRevision(cr) };
  }

  /**
   * With the template back, a StatefulSet still waits for its not-ready pods of the failed revision
   * and never replaces them (kubernetes#67250): as the Kubernetes docs tell operators ("forced
   * rollback"), delete them once the controller has seen the rollback, so it recreates them from it.
   */
  private async releaseStuckPods(t: Target, applied: Workload, failedRevision: string, onProgress: (phase: string) => void): Promise<string[]> {
    const deadline = Date.now() + this.opts.healthDeadlineMs;
    let w: Workload | undefined = applied;
    for (;;) {
      const s = (w as K8s.V1StatefulSet).status;
      if ((s?.observedGeneration ?? 0) >= (w.metadata?.generation ?? 0) && s?.updateRevision !== failedRevision) break;
      if (Date.now() > deadline) return [];
      await sleep(POLL_MS);
      if (!(w = await this.read(t))) return [];
    }
    const { core } = await this.client();
    const stuck = (await core.listNamespacedPod({ namespace: this.ns, labelSelector: `${selectorOf(w)},controller-revision-hash=${failedRevision}` })).items
      .filter((p) => !p.metadata?.deletionTimestamp && !p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    for (const p of stuck) {
      onProgress(`${this.where(t)}: deleting pod ${p.metadata!.name}, not ready on the failed revision ${failedRevision}`);
      await core.deleteNamespacedPod({ name: p.metadata!.name!, namespace: this.ns }).catch(ifMissing);
    }
    return stuck.map((p) => p.metadata!.name!);
  }

  private async replicaSets(w: Workload): Promise<K8s.V1ReplicaSet[]> {
    if (w.kind !== 'Deployment') return [];
    const { apps } = await this.client();
    const list = await apps.listNamespacedReplicaSet({ namespace: this.ns, labelSelector: selectorOf(w) });
    return list.items.filter((rs) => rs.metadata?.ownerReferences?.some((o) => o.uid === w.metadata?.uid));
  }

  /** The pods of the workload's current revision, not terminating. */
  private async currentPods(w: Workload): Promise<K8s.V1Pod[]> {
    const { core } = await this.client();
    const pods = (await core.listNamespacedPod({ namespace: this.ns, labelSelector: selectorOf(w) })).items.filter((p) => !p.metadata?.deletionTimestamp);
    if (w.kind === 'StatefulSet') return pods.filter((p) => p.metadata?.labels?.['controller-revision-hash'] === (w as K8s.V1StatefulSet).status?.updateRevision);
    const rs = (await this.replicaSets(w)).find((r) => r.metadata?.annotations?.[REVISION_ANNOTATION] === revisionOf(w));
    const hash = rs?.metadata?.labels?.['pod-template-hash'];
    return pods.filter((p) => p.metadata?.labels?.['pod-template-hash'] === hash);
  }

  private async ensurePullSecret(): Promise<void> {
    const a = this.opts.auth();
    const { core } = await this.client();
    const name = this.opts.config.pullSecret;
    const config = { auths: { [a.serveraddress]: { username: a.username, password: a.password, auth: Buffer.from(`${a.username}:${a.password}`).toString('base64') } } };
    const body: K8s.V1Secret = {
      metadata: { name, namespace: this.ns, labels: { 'app.kubernetes.io/managed-by': 'titan' } },
      type: 'kubernetes.io/dockerconfigjson',
      data: { '.dockerconfigjson': Buffer.from(JSON.stringify(config)).toString('base64') },
    };
    const live = await core.readNamespacedSecret({ name, namespace: this.ns }).catch(ifMissing);
    if (!live) await core.createNamespacedSecret({ namespace: this.ns, body });
    else if (live.data?.['.dockerconfigjson'] !== body.data!['.dockerconfigjson']) await core.replaceNamespacedSecret({ name, namespace: this.ns, body: { ...body, metadata: { ...body.metadata, resourceVersion: live.metadata?.resourceVersion } } });
  }

  private async records(): Promise<Record<string, LastKnownGood>> {
    const { core } = await this.client();
    const cm = await core.readNamespacedConfigMap({ name: this.opts.config.recordConfigMap, namespace: this.ns }).catch(ifMissing);
    return Object.fromEntries(Object.entries(cm?.data ?? {}).map(([k, v]) => [k, JSON.parse(v) as LastKnownGood]));
  }

  /** Writes the workload as its module's last known good (read-modify-write on the ConfigMap, retried on a conflict). */
  private async writeRecord(t: Target, w: Workload): Promise<LastKnownGood> {
    const auth = this.opts.auth();
    const images = imagesOf(w);
    const digests: Record<string, string> = {};
    for (const [c, image] of Object.entries(images)) {
      const d = await registryDigest(image, auth).catch(() => undefined);
      if (d) digests[c] = d;
    }
    const record: LastKnownGood = { kind: t.kind, name: t.name, revision: revisionOf(w), recordedAt: new Date().toISOString(), images, digests, manifest: manifestOf(w, t.kind) };
    const { core } = await this.client();
    const name = this.opts.config.recordConfigMap;
    for (let attempt = 0; ; attempt++) {
      const cm = await core.readNamespacedConfigMap({ name, namespace: this.ns }).catch(ifMissing);
      const body: K8s.V1ConfigMap = {
        metadata: { name, namespace: this.ns, labels: { 'app.kubernetes.io/managed-by': 'titan' }, resourceVersion: cm?.metadata?.resourceVersion },
        data: { ...cm?.data, [t.name]: JSON.stringify(record) },
      };
      try {
        await (cm ? core.replaceNamespacedConfigMap({ name, namespace: this.ns, body }) : core.createNamespacedConfigMap({ namespace: this.ns, body }));
        return record;
      } catch (err) {
        if (attempt >= 5 || ![409].includes((err as { code?: number }).code ?? 0)) throw err;
      }
    }
  }
}

/** The pod template a ControllerRevision holds (its data is a strategic merge patch replacing the template). */
function templateOfRevision(cr: K8s.V1ControllerRevision): K8s.V1PodTemplateSpec {
  const { $patch: _, ...template } = (cr.data as { spec: { template: K8s.V1PodTemplateSpec & { $patch?: string } } }).spec.template;
  return template;
}

function selectorOf(w: Workload): string {
  return Object.entries(w.spec?.selector.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`).join(',');
}
