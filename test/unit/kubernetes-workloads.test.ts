import assert from 'node:assert/strict';
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { assessWorkload, type LastKnownGood, manifestOf, pinnedManifest, rolloutProgress, verificationProblems } from '../../src/lib/kubernetes-workloads';

const deployment = (image: string, status: V1Deployment['status'], generation = 2): V1Deployment => ({
  kind: 'Deployment',
  metadata: { name: 'api', generation, annotations: { 'deployment.kubernetes.io/revision': '3' } },
  spec: { replicas: 2, selector: { matchLabels: { app: 'api' } }, template: { metadata: { labels: { app: 'api' } }, spec: { containers: [{ name: 'module', image }] } } },
  status,
});
const complete = { observedGeneration: 2, replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2 };
const good = (w: V1Deployment): LastKnownGood => ({ kind: 'Deployment', name: 'api', recordedAt: '2026-12-04T00:00:00Z', images: { module: 'r/m:1' }, digests: {}, manifest: manifestOf(w, 'Deployment') });
const pod = (restartCount: number, waiting?: string): V1Pod => ({ metadata: { name: 'api-1' }, status: { containerStatuses: [{ name: 'module', image: 'r/m:1', imageID: '', ready: true, restartCount, state: waiting ? { waiting: { reason: waiting } } : {} }] } });

describe('Kubernetes workloads in the recovery plan\'s words', () => {
  const healthy = deployment('r/m:1', complete);
  it('healthy: rollout complete, no restarts, as recorded', () => {
    assert.deepEqual(assessWorkload(healthy, good(healthy), [pod(0)]).state, 'healthy');
  });
  it('missing, image drifted, spec drifted', () => {
    assert.equal(assessWorkload(undefined, good(healthy), []).state, 'missing');
    const drifted = assessWorkload(deployment('r/m:bad', complete), good(healthy), []);
    assert.deepEqual([drifted.state, drifted.failed, drifted.reason], ['image differs', true, 'container module runs r/m:bad, recorded good r/m:1']);
    const scaled = deployment('r/m:1', complete);
    scaled.spec!.replicas = 5;
    assert.equal(assessWorkload(scaled, good(healthy), []).state, 'config differs');
  });
  it('pinned digests: a restore applies image@digest, and the pinned form of the recorded image is the recorded image', () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    const record = { ...good(healthy), digests: { module: digest } };
    assert.equal(pinnedManifest(record).spec!.template.spec!.containers[0]!.image, `r/m:1@${digest}`);
    assert.equal(record.manifest.spec!.template.spec!.containers[0]!.image, 'r/m:1', 'the record itself unchanged');
    assert.equal(pinnedManifest({ ...record, images: { module: `r/m:1@${digest}` }, manifest: manifestOf(deployment(`r/m:1@${digest}`, complete), 'Deployment') }).spec!.template.spec!.containers[0]!.image, `r/m:1@${digest}`, 'pinned once');
    assert.equal(assessWorkload(deployment(`r/m:1@${digest}`, complete), record, []).state, 'healthy');
    const other = assessWorkload(deployment(`r/m:1@sha256:${'b'.repeat(64)}`, complete), record, []);
    assert.deepEqual([other.state, other.failed], ['image differs', true], 'the same tag by another digest is other bytes');
  });
  it('rollout stuck (ProgressDeadlineExceeded), crash-looping, unavailable, still starting', () => {
    const stuck = deployment('r/m:1', { ...complete, readyReplicas: 1, conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'ReplicaSet "api-1" has timed out progressing.' }] });
    assert.equal(assessWorkload(stuck, undefined, []).state, 'rollout stuck');
    assert.match(rolloutProgress(stuck).stuck!, /^rollout exceeded its progress deadline/);
    assert.equal(assessWorkload(healthy, undefined, [pod(0, 'CrashLoopBackOff')]).state, 'crash-looping');
    assert.equal(assessWorkload(healthy, undefined, [pod(2)]).state, 'crash-looping');
    const down = deployment('r/m:1', { ...complete, readyReplicas: 0, availableReplicas: 0, conditions: [{ type: 'Available', status: 'False', message: 'Deployment does not have minimum availability.' }, { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable' }] });
    assert.equal(assessWorkload(down, undefined, []).state, 'unavailable');
    const rolling = deployment('r/m:1', { ...complete, observedGeneration: 1, updatedReplicas: 1 });
    assert.deepEqual([assessWorkload(rolling, undefined, []).state, assessWorkload(rolling, undefined, []).failed], ['starting', false]);
  });
  it('verification: complete, no restarts, no warning events since the rollout began', () => {
    const since = new Date('2026-12-04T10:00:00Z');
    const warn = (at: string) => ({ type: 'Warning', reason: 'FailedScheduling', message: 'no nodes', involvedObject: { kind: 'Pod', name: 'api-1' }, lastTimestamp: new Date(at), metadata: {} });
    assert.deepEqual(verificationProblems(healthy, [pod(0)], [warn('2026-12-04T09:59:00Z')], since), [], 'an older warning does not count');
    const problems = verificationProblems(deployment('r/m:1', { ...complete, readyReplicas: 1 }), [pod(1)], [warn('2026-12-04T10:00:05Z')], since);
    assert.equal(problems.length, 3);
    assert.match(problems[0]!, /^rollout not complete: 2 of 2 replicas updated, 1 ready/);
    assert.match(problems[2]!, /1 warning event\(s\) since the rollout began, e\.g\. Pod\/api-1 FailedScheduling: no nodes/);
  });
});
