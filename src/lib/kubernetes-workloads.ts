// Modules on Kubernetes: what a Deployment or StatefulSet's state means in the recovery plan's words
// (failed or not, and why), what "rollout complete" and "verified" mean, and the last known good
// record Titan keeps of each. Pure: the objects come from the apiserver (infra/kubernetes-modules.ts).
import type { V1Deployment, V1Pod, CoreV1Event, V1StatefulSet } from '@kubernetes/client-node';
import type { ModuleState } from './module-state';

export type Workload = V1Deployment | V1StatefulSet;
export type WorkloadKind = 'Deployment' | 'StatefulSet';

/** The annotation listing the modules a workload depends on (comma-separated names). */
export const DEPENDS_ON_ANNOTATION = 'titan.io/depends-on';
/** Set by a redeploy: its id (a retried activity recognises its own apply) and when it began. */
export const DEPLOY_ANNOTATION = 'titan.io/deploy';
export const DEPLOYED_AT_ANNOTATION = 'titan.io/deployed-at';
const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';

/** What Titan recorded after a verified deploy: the workload as applied, and the images it ran. */
export interface LastKnownGood {
  kind: WorkloadKind;
  name: string;
  /** The Deployment revision (or StatefulSet controller revision) that was verified. */
  revision?: string;
  recordedAt: string;
  /** container name → image, as in the spec. */
  images: Record<string, string>;
  /** container name → the image's digest in the private registry, when it answered. */
  digests: Record<string, string>;
  /** apiVersion, kind, metadata (name, labels, annotations) and spec: what a restore re-applies. */
  manifest: Workload;
}

export interface WorkloadAssessment {
  state: ModuleState;
  failed: boolean;
  reason: string;
}

export const revisionOf = (w: Workload): string | undefined =>
  w.kind === 'StatefulSet' ? (w as V1StatefulSet).status?.updateRevision : w.metadata?.annotations?.[REVISION_ANNOTATION];

/** The workload's images by container name. */
export function imagesOf(w: Workload): Record<string, string> {
  return Object.fromEntries((w.spec?.template.spec?.containers ?? []).map((c) => [c.name, c.image ?? '']));
}

/** The image by the digest recorded for it, so a tag moved since the record cannot change what runs (`repo:tag@sha256:…`). */
export const pinnedImage = (image: string, digest: string | undefined): string =>
  !digest || image.includes('@') ? image : `${image}@${digest}`;

/** The recorded manifest with each image pinned to its recorded digest: what a restore applies. */
export function pinnedManifest(good: LastKnownGood): Workload {
  const m = structuredClone(good.manifest);
  for (const c of m.spec?.template.spec?.containers ?? []) c.image = pinnedImage(c.image ?? '', good.digests[c.name]);
  return m;
}

/** The recorded images, each pinned to its recorded digest, by container. */
export const pinnedImages = (good: LastKnownGood): Record<string, string> =>
  Object.fromEntries(Object.entries(good.images).map(([c, image]) => [c, pinnedImage(image, good.digests[c])]));

/** The live workload with the pinned form of a recorded image read as the recorded image itself. */
function unpinned(w: Workload, good: LastKnownGood): Workload {
  const u = structuredClone(w);
  for (const c of u.spec?.template.spec?.containers ?? []) {
    const recorded = good.images[c.name];
    if (recorded && c.image === pinnedImage(recorded, good.digests[c.name])) c.image = recorded;
  }
  return u;
}

/** The names a workload depends on, from its annotation. */
export function dependsOnOf(w: Workload | undefined): string[] {
  const a = w?.metadata?.annotations?.[DEPENDS_ON_ANNOTATION] ?? '';
  return a.split(',').map((s) => s.trim()).filter(Boolean).sort();
}

/** What a restore re-applies: the workload without its status and server-owned metadata. */
export function manifestOf(w: Workload, kind: WorkloadKind): Workload {
  const annotations = { ...w.metadata?.annotations };
  for (const a of [REVISION_ANNOTATION, DEPLOY_ANNOTATION, DEPLOYED_AT_ANNOTATION, 'kubectl.kubernetes.io/last-applied-configuration']) delete annotations[a];
  return {
    apiVersion: 'apps/v1',
    kind,
    metadata: { name: w.metadata!.name, namespace: w.metadata?.namespace, labels: w.metadata?.labels, annotations },
    spec: w.spec,
  } as Workload;
}

/** Key order and server defaults aside, the same JSON. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).filter((k) => (v as Record<string, unknown>)[k] !== undefined).sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** The parts of a spec a drift is judged on: the pod template, the replicas and the update strategy. */
function specPart(w: Workload): unknown {
  const s = w.spec as V1Deployment['spec'] & V1StatefulSet['spec'];
  return { template: s?.template, replicas: s?.replicas ?? 1, strategy: s?.strategy, updateStrategy: s?.updateStrategy };
}

/** Missing, drifted from the recorded good revision, rollout stuck, crash-looping, not ready, unavailable — or healthy. */
export function assessWorkload(w: Workload | undefined, good: LastKnownGood | undefined, pods: V1Pod[]): WorkloadAssessment {
  if (!w) return { state: 'missing', failed: true, reason: good ? 'the workload is missing; its recorded good spec can recreate it' : 'the workload is missing and no good spec was recorded' };
  if (good) {
    const live = unpinned(w, good);
    const now = imagesOf(live);
    const changed = Object.entries(good.images).filter(([c, image]) => now[c] !== image);
    if (changed.length) return { state: 'image differs', failed: true, reason: changed.map(([c, image]) => `container ${c} runs ${now[c] ?? 'nothing'}, recorded good ${image}`).join('; ') };
    if (canonical(specPart(live)) !== canonical(specPart(good.manifest))) return { state: 'config differs', failed: true, reason: `its spec differs from the good revision recorded at ${good.recordedAt}` };
  }
  const progress = rolloutProgress(w);
  if (progress.stuck) return { state: 'rollout stuck', failed: true, reason: progress.stuck };
  const crashing = crashLooping(pods);
  if (crashing) return { state: 'crash-looping', failed: true, reason: crashing };
  if (progress.complete) return { state: 'healthy', failed: false, reason: good ? `revision ${revisionOf(w) ?? '?'}, as recorded at ${good.recordedAt}` : 'no good revision recorded yet (titan modules record)' };
  const available = (w as V1Deployment).status?.conditions?.find((c) => c.type === 'Available');
  if (available?.status === 'False') return { state: 'unavailable', failed: true, reason: available.message ?? 'minimum availability not reached' };
  if (progress.inProgress) return { state: 'starting', failed: false, reason: progress.waiting };
  return { state: 'not ready', failed: true, reason: progress.waiting };
}

export interface RolloutProgress {
  /** updated = ready = available = desired replicas, no old ones left, observed generation current. */
  complete: boolean;
  /** Still within its progress deadline. */
  inProgress: boolean;
  /** Why it will not complete (ProgressDeadlineExceeded), if so. */
  stuck?: string;
  waiting: string;
}

export function rolloutProgress(w: Workload): RolloutProgress {
  const desired = w.spec?.replicas ?? 1;
  const s = w.status ?? { replicas: 0 };
  const observed = (s.observedGeneration ?? 0) >= (w.metadata?.generation ?? 0);
  const updated = s.updatedReplicas ?? 0;
  const ready = s.readyReplicas ?? 0;
  const available = s.availableReplicas ?? 0;
  const waiting = observed
    ? `${updated} of ${desired} replicas updated, ${ready} ready, ${available} available, ${s.replicas ?? 0} in all`
    : `generation ${w.metadata?.generation} not yet observed`;
  const progressing = (w as V1Deployment).status?.conditions?.find((c) => c.type === 'Progressing');
  // (a condition from before the current generation was observed says nothing about this rollout)
  if (observed && progressing?.reason === 'ProgressDeadlineExceeded') {
    return { complete: false, inProgress: false, stuck: `rollout exceeded its progress deadline (${progressing.message ?? 'ProgressDeadlineExceeded'})`, waiting };
  }
  const sts = w.kind === 'StatefulSet' ? (w as V1StatefulSet).status : undefined;
  const complete = observed && updated === desired && ready === desired && available === desired && (s.replicas ?? 0) === desired
    && (!sts || sts.currentRevision === sts.updateRevision);
  return { complete, inProgress: !complete && (progressing?.status === 'True' || !observed || w.kind === 'StatefulSet'), waiting };
}

/** A pod's containers restarting (CrashLoopBackOff, or restarts at all): the reason, or undefined. */
export function crashLooping(pods: V1Pod[]): string | undefined {
  for (const p of pods) {
    for (const c of p.status?.containerStatuses ?? []) {
      if (c.state?.waiting?.reason === 'CrashLoopBackOff') return `pod ${p.metadata?.name} container ${c.name} is in CrashLoopBackOff`;
      if ((c.restartCount ?? 0) > 0) return `pod ${p.metadata?.name} container ${c.name} restarted ${c.restartCount} time(s)`;
    }
  }
  return undefined;
}

/** The verification after a rollout: complete, no restarts, no Warning events since it began. */
export function verificationProblems(w: Workload, pods: V1Pod[], events: CoreV1Event[], since: Date): string[] {
  const problems: string[] = [];
  const progress = rolloutProgress(w);
  if (!progress.complete) problems.push(progress.stuck ?? `rollout not complete: ${progress.waiting}`);
  const crashing = crashLooping(pods);
  if (crashing) problems.push(crashing);
  const warnings = events.filter((e) => e.type === 'Warning' && eventTime(e) >= since.getTime());
  if (warnings.length) {
    const e = warnings[0]!;
    problems.push(`${warnings.length} warning event(s) since the rollout began, e.g. ${e.involvedObject.kind}/${e.involvedObject.name} ${e.reason}: ${e.message}`);
  }
  return problems;
}

const eventTime = (e: CoreV1Event) => new Date(e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? e.metadata.creationTimestamp ?? 0).getTime();
