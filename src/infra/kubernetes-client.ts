// The apiserver clients for modules.kubernetes (a kubeconfig and context, or in-cluster), shared by
// the modules orchestrator and the drill's sandbox namespace.
import { ApplicationFailure } from '@temporalio/common';
import type * as K8s from '@kubernetes/client-node';
import type { KubernetesModulesConfig } from '../lib/config';
import { ErrorType } from '../lib/errors';

type ClientNode = typeof K8s;
// @kubernetes/client-node 1.x is ESM-only and tsc (module: commonjs) turns import() into require():
// this import() stays a real one.
const importEsm = new Function('s', 'return import(s)') as (s: string) => Promise<ClientNode>;

export type KubernetesConnection = Pick<KubernetesModulesConfig, 'kubeconfig' | 'inCluster' | 'context'>;
export interface KubernetesApis { apps: K8s.AppsV1Api; core: K8s.CoreV1Api }

/** The apps and core APIs of the configured cluster; a kubeconfig or context that is not there: one error naming the field. */
export async function kubernetesApis(c: KubernetesConnection): Promise<KubernetesApis> {
  const k8s = await importEsm('@kubernetes/client-node');
  const kc = new k8s.KubeConfig();
  if (c.inCluster) kc.loadFromCluster();
  else {
    try {
      kc.loadFromFile(c.kubeconfig!);
    } catch (err) {
      throw ApplicationFailure.nonRetryable(`modules.kubernetes.kubeconfig: cannot read ${c.kubeconfig}: ${(err as Error).message}`, ErrorType.ConfigInvalid);
    }
  }
  if (c.context) {
    if (!kc.getContextObject(c.context)) throw ApplicationFailure.nonRetryable(`modules.kubernetes.context: ${c.kubeconfig} has no context "${c.context}"`, ErrorType.ConfigInvalid);
    kc.setCurrentContext(c.context);
  }
  return { apps: kc.makeApiClient(k8s.AppsV1Api), core: kc.makeApiClient(k8s.CoreV1Api) };
}

/** A read that found nothing (404) is undefined; other errors stay errors. */
export function ifMissing(err: unknown): undefined {
  if ((err as { code?: number }).code === 404) return undefined;
  throw err;
}
