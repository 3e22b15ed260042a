// The stack's Kubernetes control plane as tests see it: kubectl on a test namespace, a module's
// Deployment (kwok nodes play its kubelet), the environment file's modules section, and the
// private registry's tags moved by hand (as an operator pushing another image under a tag would).
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { repoRoot, stackSecrets } from './stack';

export const kubeconfig = path.join(repoRoot, '.titan', 'kubeconfig');
export const kubectlBin = path.join(repoRoot, '.titan', 'tools', 'bin', 'kubectl');
export const MODULE_IMAGE = (tag: string) => `127.0.0.1:5000/titan/module:${tag}`;

/** kubectl in namespace `ns` (its stdout), optionally with `input` on its stdin. */
export function kubectlIn(ns: string, input: string | undefined, ...args: string[]): string {
  return execFileSync(kubectlBin, ['--kubeconfig', kubeconfig, '-n', ns, ...args], { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
}

const MANIFEST_TYPES = 'application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json';

/** Points tag `to` of titan/module at the manifest of tag `from` (registry API v2); returns its digest. */
export async function tagModuleImage(from: string, to: string): Promise<string> {
  const s = stackSecrets();
  const authorization = `Basic ${Buffer.from(`${s.TITAN_REGISTRY_USER}:${s.TITAN_REGISTRY_PASSWORD}`).toString('base64')}`;
  const base = 'http://127.0.0.1:5000/v2/titan/module/manifests';
  const got = await fetch(`${base}/${from}`, { headers: { accept: MANIFEST_TYPES, authorization } });
  if (!got.ok) throw new Error(`registry: GET titan/module:${from} answered ${got.status}`);
  const put = await fetch(`${base}/${to}`, { method: 'PUT', headers: { 'content-type': got.headers.get('content-type')!, authorization }, body: Buffer.from(await got.arrayBuffer()) });
  if (!put.ok) throw new Error(`registry: PUT titan/module:${to} answered ${put.status}: ${await put.text()}`);
  return put.headers.get('docker-content-digest')!;
}

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
