// What the modules stage needs of the orchestrator that runs Titan's modules: Docker Compose
// (compose-modules.ts) or Kubernetes (kubernetes-modules.ts). The module activities and
// `titan modules status|restore|record` call this, whichever the environment file names.
import type { ModuleInventory, ModuleVerification } from '../lib/module-state';

export interface ModuleOrchestrator {
  /** Every module asked for (default: all) with its state; waves of those that need a redeploy. */
  inventory(services?: string[]): Promise<ModuleInventory>;
  /** Makes sure the module's image can be had (`image` as ModuleStatus.desiredImage says it). */
  pull(image: string, onProgress: (p: unknown) => void): Promise<string>;
  /** Brings back the module's good state (`image`: what pull() returned); returns what verify() checks. */
  redeploy(req: { service: string; image: string; deployTag: string }, onProgress: (phase: string) => void, warn: (message: string) => void): Promise<string>;
  /** The verification after a redeploy; on Kubernetes a verified module's revision becomes its last known good. */
  verify(req: { service: string; deployed: string }, onWait: (state: string) => void): Promise<ModuleVerification>;
  /**
   * Records the modules that are healthy now as their last known good; refuses the others. Only
   * where the orchestrator has no file that says what good is (Kubernetes; for Compose it is the compose file).
   */
  record?(services?: string[]): Promise<{ service: string; revision?: string; images: Record<string, string>; digests: Record<string, string> }[]>;
}
