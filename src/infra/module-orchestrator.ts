// What the modules stage needs of an orchestrator other than the Docker engine's compose project
// (module-engine.ts): the module activities and `titan modules status|restore|record` call this
// when the environment file's modules run on Kubernetes.
import type { ModuleInventory, ModuleVerification } from '../lib/module-state';

export interface ModuleOrchestrator {
  /** Every module asked for (default: all) with its state; waves of those that need a redeploy. */
  inventory(services?: string[]): Promise<ModuleInventory>;
  /** Makes sure the module's image can be had (`image` as ModuleStatus.desiredImage says it). */
  pull(image: string): Promise<string>;
  /** Brings back the module's recorded good revision; returns what verify() checks. */
  redeploy(req: { service: string; deployTag: string }, onProgress: (phase: string) => void): Promise<string>;
  /** The verification after a redeploy; a verified module's revision becomes its last known good. */
  verify(req: { service: string; deployed: string }, onWait: (state: string) => void): Promise<ModuleVerification>;
  /** Records the modules that are healthy now as their last known good; refuses the others. */
  record(services?: string[]): Promise<{ service: string; revision?: string; images: Record<string, string>; digests: Record<string, string> }[]>;
}
