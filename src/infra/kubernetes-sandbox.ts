// A drill's modules sandbox on Kubernetes: a namespace of production's cluster, labelled as Titan's
// drill sandbox and annotated with the drill's workflow id, holding a copy of production's last
// known good records. Production's namespace is only read (its records ConfigMap), never written.
import { setTimeout as sleep } from 'node:timers/promises';
import { ApplicationFailure } from '@temporalio/common';
import type * as K8s from '@kubernetes/client-node';
import { ErrorType } from '../lib/errors';
import { ifMissing, type KubernetesApis, type KubernetesConnection, kubernetesApis } from './kubernetes-client';

/** The label every drill sandbox namespace carries; only a namespace with it is ever deleted. */
export const SANDBOX_NAMESPACE_LABEL = 'titan.io/drill-sandbox';
/** The annotations naming the drill (its workflow id and run: they may hold characters a label value may not). */
export const SANDBOX_DRILL_ANNOTATION = 'titan.io/drill-workflow';
export const SANDBOX_RUN_ANNOTATION = 'titan.io/drill-run';
const COPIED_FROM_ANNOTATION = 'titan.io/copied-from';
const POLL_MS = 500;

export interface KubernetesSandboxOptions {
  connection: KubernetesConnection;
  /** Production's namespace: only its records ConfigMap is read. */
  production: string;
  /** The sandbox namespace the drill creates and deletes. */
  namespace: string;
  recordConfigMap: string;
  /** How long the deletion may take before removeDrillSandbox reports what is left. */
  deleteWaitMs: number;
}

/** A drill, by workflow id and run (drills started by `titan drill` share their workflow id). */
export interface DrillRun { workflowId: string; runId: string }
/** Whose sandbox a namespace is: not one (never deleted), or a drill's. */
type Owner = { kind: 'not a sandbox' } | { kind: 'drill'; drill: DrillRun };
export const sameRun = (a: DrillRun, b: DrillRun) => a.workflowId === b.workflowId && a.runId === b.runId;

export class KubernetesSandbox {
  private apis?: Promise<KubernetesApis>;

  constructor(private readonly opts: KubernetesSandboxOptions) {}

  get namespace() {
    return this.opts.namespace;
  }

  private client() {
    return (this.apis ??= kubernetesApis(this.opts.connection));
  }

  /** The sandbox namespace's owner, if it exists (and is not already being deleted: `terminating`). */
  async owner(): Promise<(Owner & { terminating: boolean }) | undefined> {
    const { core } = await this.client();
    const ns = await core.readNamespace({ name: this.opts.namespace }).catch(ifMissing);
    if (!ns) return undefined;
    const terminating = ns.status?.phase === 'Terminating';
    const a = ns.metadata?.annotations ?? {};
    const [workflowId, runId] = [a[SANDBOX_DRILL_ANNOTATION], a[SANDBOX_RUN_ANNOTATION]];
    if (ns.metadata?.labels?.[SANDBOX_NAMESPACE_LABEL] !== 'true' || !workflowId || !runId) return { kind: 'not a sandbox', terminating };
    return { kind: 'drill', drill: { workflowId, runId }, terminating };
  }

  /**
   * Creates the namespace for the drill and copies production's records into it. Production's
   * records are read first: without them nothing is created. `owner` is what owner() found: the
   * caller has made sure it is this drill (reused: a retried start) or an ended drill (deleted first).
   */
  async create(drill: DrillRun, owner: Awaited<ReturnType<KubernetesSandbox['owner']>>, onProgress: (phase: string) => void): Promise<{ records: string[] }> {
    const { core } = await this.client();
    const { production, namespace, recordConfigMap } = this.opts;
    const good = await core.readNamespacedConfigMap({ name: recordConfigMap, namespace: production }).catch(ifMissing);
    const records = Object.keys(good?.data ?? {}).sort();
    if (!records.length) {
      throw ApplicationFailure.nonRetryable(`namespace ${production} has no last known good records (ConfigMap ${recordConfigMap}): a drill has nothing to recover; run titan modules record`, ErrorType.ModuleRestoreFailed);
    }
    if (owner?.kind === 'not a sandbox') throw new Error(`namespace ${namespace} is not labelled a Titan drill sandbox`); // the caller refuses it first
    if (owner && (!sameRun(owner.drill, drill) || owner.terminating)) {
      const left = owner.terminating ? await this.waitGone(onProgress) : await this.deleteAndWait(onProgress);
      if (left) throw new Error(`the sandbox of an ended drill is not gone yet: ${left}`);
    }
    if (!owner || !sameRun(owner.drill, drill) || owner.terminating) {
      onProgress(`creating namespace ${namespace}`);
      await core.createNamespace({
        body: {
          metadata: {
            name: namespace,
            labels: { [SANDBOX_NAMESPACE_LABEL]: 'true', 'app.kubernetes.io/managed-by': 'titan' },
            annotations: { [SANDBOX_DRILL_ANNOTATION]: drill.workflowId, [SANDBOX_RUN_ANNOTATION]: drill.runId },
          },
        },
      });
    }
    const body: K8s.V1ConfigMap = {
      metadata: {
        name: recordConfigMap,
        namespace,
        labels: { 'app.kubernetes.io/managed-by': 'titan' },
        annotations: { [COPIED_FROM_ANNOTATION]: `${production}/${recordConfigMap}@${good!.metadata?.resourceVersion}` },
      },
      data: good!.data,
    };
    const copy = await core.readNamespacedConfigMap({ name: recordConfigMap, namespace }).catch(ifMissing);
    onProgress(`copying ${records.length} last known good record(s) from namespace ${production}`);
    if (copy) await core.replaceNamespacedConfigMap({ name: recordConfigMap, namespace, body: { ...body, metadata: { ...body.metadata, resourceVersion: copy.metadata?.resourceVersion } } });
    else await core.createNamespacedConfigMap({ namespace, body });
    return { records };
  }

  /** Deletes the namespace and waits until the apiserver no longer has it; what is left if it is not gone in time. */
  async deleteAndWait(onProgress: (phase: string) => void): Promise<string | undefined> {
    const { core } = await this.client();
    onProgress(`deleting namespace ${this.opts.namespace}`);
    await core.deleteNamespace({ name: this.opts.namespace }).catch(ifMissing);
    return this.waitGone(onProgress);
  }

  private async waitGone(onProgress: (phase: string) => void): Promise<string | undefined> {
    const { core } = await this.client();
    const name = this.opts.namespace;
    for (const end = Date.now() + this.opts.deleteWaitMs; ; await sleep(POLL_MS)) {
      const ns = await core.readNamespace({ name }).catch(ifMissing);
      if (!ns) return undefined;
      const why = (ns.status?.conditions ?? []).filter((c) => c.status === 'True').map((c) => `${c.type}: ${c.message}`);
      onProgress(`namespace ${name} ${ns.status?.phase ?? ''}${why.length ? ` (${why.join('; ')})` : ''}`);
      if (Date.now() > end) return `namespace ${name} still ${ns.status?.phase ?? 'there'} after ${Math.round(this.opts.deleteWaitMs / 1000)}s${why.length ? `: ${why.join('; ')}` : ''}`;
    }
  }
}
