// What the modules stage finds and decides about each module: the shapes passed between its
// activities, its workflow and `titan modules status`. Pure.

export type ModuleState = 'healthy' | 'starting' | 'completed' | 'missing' | 'exited' | 'restarting' | 'unhealthy' | 'image differs' | 'config differs'
  // on Kubernetes
  | 'unavailable' | 'rollout stuck' | 'crash-looping' | 'not ready';

export interface ModuleStatus {
  service: string;
  state: ModuleState;
  /** Needs a redeploy: everything but healthy, starting and (a one-shot job) completed. */
  failed: boolean;
  reason: string;
  desiredImage: string;
  containerId?: string;
  /** The image the container was created from (a reference or an image id after a rollback). */
  image?: string;
  /** The id of the image the container runs: what a rollback returns to. */
  imageId?: string;
}

export interface ModuleInventory {
  project: string;
  modules: ModuleStatus[];
  /** The failed modules (or those asked for) in start order: each wave after the ones it depends on. */
  waves: string[][];
  /** What each module depends on (compose depends_on). */
  dependsOn: Record<string, string[]>;
  /** The modules to restart after a module is redeployed (depends_on with restart: true). */
  restartedWith?: Record<string, string[]>;
  /** What compose would warn about in the compose file (variables not set). */
  warnings?: string[];
}

export interface ModuleVerification {
  service: string;
  healthy: boolean;
  problems: string[];
  startedAt?: string;
}
