// The stack's Kubernetes control plane for module tests: its kubeconfig and kubectl, and the
// Deployment a test's module is (kwok nodes play its kubelet).
import path from 'node:path';
import { repoRoot } from './stack';

export const kubeconfig = path.join(repoRoot, '.titan', 'kubeconfig');
export const kubectlBin = path.join(repoRoot, '.titan', 'tools', 'bin', 'kubectl');

/** A module's Deployment: 2 replicas on the kwok node, labelled a Titan module, with its titan.io/depends-on. */
export const moduleDeployment = (name: string, dependsOn: string[], o: { image: string; progressDeadlineSeconds: number }) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, labels: { 'titan.io/module': 'true' }, annotations: dependsOn.length ? { 'titan.io/depends-on': dependsOn.join(',') } : {} },
  spec: {
    replicas: 2,
    progressDeadlineSeconds: o.progressDeadlineSeconds,
    selector: { matchLabels: { app: name } },
    template: {
      metadata: { labels: { app: name } },
      // the fake node's taint-free, kwok-managed: pods land there and kwok plays their kubelet
      spec: { containers: [{ name: 'module', image: o.image }], nodeSelector: { type: 'kwok' } },
    },
  },
});

/** The environment file's modules section for the Titan modules of `namespace` on the stack's control plane. */
export const kubernetesModulesSection = (namespace: string) => ({
  kubernetes: { kubeconfig, namespace, selector: 'titan.io/module=true' },
  registry: { address: '127.0.0.1:5000', usernameEnv: 'TITAN_REGISTRY_USER', passwordEnv: 'TITAN_REGISTRY_PASSWORD' },
  healthDeadline: '60s',
});
