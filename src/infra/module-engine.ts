// Titan's modules on the Docker engine: what runs compared with what the compose file wants, and
// the engine operations a redeploy needs (pull with credentials, recreate, wait for health, read
// logs). Containers carry docker-compose's labels, so `docker-compose ps` sees them as its own.
import type Docker from 'dockerode';
import { ApplicationFailure } from '@temporalio/common';
import type { ComposeProject, ModuleSpec } from '../lib/compose';
import { COMPOSE_VERSION, completesOnce, configHash, containerCreateOptions, dependencyWaves, restartedWith } from '../lib/compose-container';
import { normalizeTime } from '../lib/log-lines';
import { ErrorType } from '../lib/errors';
import type { ModuleInventory, ModuleStatus } from '../lib/module-state';
import { engineLines } from './log-source';

/** Marks containers a redeploy created, so a retried activity recognises its own work. */
export const DEPLOY_LABEL = 'titan.deploy';

export interface RegistryAuth {
  username: string;
  password: string;
  serveraddress: string;
}

export class ModuleEngine {
  constructor(
    private readonly docker: Docker,
    readonly project: ComposeProject,
  ) {}

  spec(service: string): ModuleSpec {
    const s = this.project.services[service];
    if (!s) throw ApplicationFailure.nonRetryable(`no module named "${service}" in ${this.project.source}`, ErrorType.ModuleUnknown);
    return s;
  }

  containerName(service: string): string {
    return this.spec(service).containerName ?? `${this.project.name}_${service}_1`;
  }

  /** The project's containers, inspected, by service; with `service`, only that one's (normally one). */
  async containers(service?: string): Promise<Map<string, Docker.ContainerInspectInfo[]>> {
    const label = [`com.docker.compose.project=${this.project.name}`, 'com.docker.compose.oneoff=False'];
    if (service) label.push(`com.docker.compose.service=${service}`);
    const list = await this.docker.listContainers({ all: true, filters: { label } });
    const byService = new Map<string, Docker.ContainerInspectInfo[]>();
    for (const c of await Promise.all(list.map((x) => this.docker.getContainer(x.Id).inspect()))) {
      const s = c.Config.Labels?.['com.docker.compose.service'] ?? '';
      byService.set(s, [...(byService.get(s) ?? []), c]);
    }
    return byService;
  }

  async containersOf(service: string): Promise<Docker.ContainerInspectInfo[]> {
    return (await this.containers(service)).get(service) ?? [];
  }

  /** Every named module's state, from one listing of the project's containers. */
  async statuses(services: string[]): Promise<ModuleStatus[]> {
    const all = await this.containers();
    return services.map((s) => this.status(s, all.get(s)?.[0]));
  }

  /**
   * Every module asked for (default: all) with its state; waves of those that need a redeploy.
   * Throws (non-retryable) when the engine cannot run the compose file as written: nothing is touched yet.
   */
  async inventory(services?: string[]): Promise<ModuleInventory> {
    await this.checkEngineCanRun();
    const names = services?.length ? services : Object.keys(this.project.services).sort();
    const modules = await this.statuses(names);
    const failed = modules.filter((m) => m.failed).map((m) => m.service);
    const dependsOn = Object.fromEntries(Object.entries(this.project.services).map(([n, spec]) => [n, Object.keys(spec.dependsOn).sort()]));
    return {
      project: this.project.name, modules, waves: failed.length ? dependencyWaves(this.project, failed) : [], dependsOn,
      restartedWith: restartedWith(this.project), warnings: this.project.warnings,
    };
  }

  /** What the compose file needs of the engine beyond a container: a new enough API, its external volumes. */
  private async checkEngineCanRun(): Promise<void> {
    const refuse = (field: string, message: string) => ApplicationFailure.nonRetryable(`${this.project.source}: ${field}: ${message}`, ErrorType.ConfigInvalid);
    const withStartInterval = Object.keys(this.project.services).sort().find((s) => this.spec(s).healthcheck?.startIntervalMs !== undefined);
    if (withStartInterval) {
      const v = await this.docker.version();
      // Engines before API 1.44 drop StartInterval without a word: the probe would run at `interval`.
      if (compareApi(v.ApiVersion, '1.44') < 0) {
        throw refuse(`services.${withStartInterval}.healthcheck.start_interval`, `needs Docker Engine 25 or later (API 1.44); this engine is ${v.Version} (API ${v.ApiVersion})`);
      }
    }
    for (const [service, spec] of Object.entries(this.project.services)) {
      for (const m of spec.volumes) {
        const volume = Object.values(this.project.volumes).find((v) => v.name === m.source);
        if (m.type !== 'volume' || !volume?.external) continue;
        if (!(await this.volumeExists(volume.name))) throw refuse(`services.${service}.volumes`, `external volume "${volume.name}" does not exist (create it first)`);
      }
    }
  }

  private async volumeExists(name: string): Promise<boolean> {
    return this.docker.getVolume(name).inspect().then(() => true, (err: { statusCode?: number }) => {
      if (err.statusCode === 404) return false;
      throw err;
    });
  }

  /** Creates the service's missing named volumes with docker-compose's labels; never removes one. */
  private async ensureVolumes(spec: ModuleSpec): Promise<void> {
    for (const m of spec.volumes) {
      const v = Object.values(this.project.volumes).find((x) => x.name === m.source);
      if (m.type !== 'volume' || !v || v.external || (await this.volumeExists(v.name))) continue;
      await this.docker.createVolume({
        Name: v.name,
        Driver: v.driver ?? 'local',
        DriverOpts: v.driverOptions,
        Labels: { ...v.labels, 'com.docker.compose.project': this.project.name, 'com.docker.compose.volume': v.key, 'com.docker.compose.version': COMPOSE_VERSION },
      });
    }
  }

  /** A one-shot job (others wait for it to complete successfully): exited with 0 is its healthy state. */
  completesOnce(service: string): boolean {
    return completesOnce(this.project, service);
  }

  private status(service: string, c: Docker.ContainerInspectInfo | undefined): ModuleStatus {
    const spec = this.spec(service);
    const base = { service, desiredImage: spec.image };
    if (!c) return { ...base, state: 'missing', failed: true, reason: 'no container' };
    const known = { ...base, containerId: c.Id, image: c.Config.Image, imageId: c.Image };
    const st = c.State;
    const completed = !st.Running && !st.Restarting && st.ExitCode === 0 && this.completesOnce(service);
    if (st.Restarting) return { ...known, state: 'restarting', failed: true, reason: `restarting (exit code ${st.ExitCode}, ${c.RestartCount} restarts)` };
    if (!st.Running && !completed) return { ...known, state: 'exited', failed: true, reason: `exited with code ${st.ExitCode} at ${st.FinishedAt}` };
    if (c.Config.Image !== spec.image) return { ...known, state: 'image differs', failed: true, reason: `runs ${c.Config.Image}, the compose file wants ${spec.image}` };
    if (c.Config.Labels?.['com.docker.compose.config-hash'] !== configHash(spec)) return { ...known, state: 'config differs', failed: true, reason: 'its configuration differs from the compose file' };
    if (completed) return { ...known, state: 'completed', failed: false, reason: `completed successfully at ${st.FinishedAt}` };
    const health = st.Health?.Status;
    if (health === 'unhealthy') return { ...known, state: 'unhealthy', failed: true, reason: `unhealthy: ${lastProbe(c)}` };
    if (health === 'starting') return { ...known, state: 'starting', failed: false, reason: 'health check not passed yet' };
    return { ...known, state: 'healthy', failed: false, reason: health === 'healthy' ? 'healthy' : 'running (no health check)' };
  }

  /** Pulls with the registry credentials; `onProgress` gets bytes downloaded so far. */
  async pull(image: string, auth: RegistryAuth, onProgress: (p: { phase: string; bytes: number; totalBytes?: number }) => void): Promise<string> {
    try {
      const stream = await this.docker.pull(image, { authconfig: auth });
      const layers = new Map<string, { current: number; total: number }>();
      await new Promise<void>((resolve, reject) => {
        this.docker.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve()), (e: { id?: string; status?: string; progressDetail?: { current?: number; total?: number }; error?: string }) => {
          if (e.error) reject(new Error(e.error));
          if (e.id && e.progressDetail?.total) layers.set(e.id, { current: e.progressDetail.current ?? 0, total: e.progressDetail.total });
          const sum = (k: 'current' | 'total') => [...layers.values()].reduce((a, l) => a + l[k], 0);
          onProgress({ phase: `pull ${image}`, bytes: sum('current'), totalBytes: sum('total') || undefined });
        });
      });
    } catch (err) {
      const msg = (err as Error).message;
      if (/unauthorized|authentication required|no basic auth credentials|401/i.test(msg)) {
        throw ApplicationFailure.nonRetryable(`registry ${auth.serveraddress} refused the credentials of ${auth.username} for ${image}`, ErrorType.RegistryAuthFailed);
      }
      if (/manifest unknown|not found/i.test(msg)) throw ApplicationFailure.nonRetryable(`image ${image} is not in registry ${auth.serveraddress}`, ErrorType.ImageNotFound);
      throw err;
    }
    return (await this.docker.getImage(image).inspect()).Id;
  }

  /**
   * Replaces the service's container with one from `image`, labelled `deployTag`. Idempotent:
   * a container that already carries the tag is only started; any other is stopped (SIGTERM,
   * then SIGKILL after `stopTimeoutS`) and removed first, so there is never a duplicate.
   */
  async recreate(service: string, image: string, deployTag: string, stopTimeoutS: number): Promise<string> {
    const spec = this.spec(service);
    for (const c of await this.containersOf(service)) {
      if (c.Config.Labels?.[DEPLOY_LABEL] === deployTag) {
        if (!c.State.Running) await this.docker.getContainer(c.Id).start();
        return c.Id;
      }
      const old = this.docker.getContainer(c.Id);
      if (c.State.Running || c.State.Restarting) await old.stop({ t: stopTimeoutS }).catch(ignoreStatus(304));
      await old.remove({ force: true }).catch(ignoreStatus(404));
    }
    // A container of that name outside the project's labels (e.g. made by hand) would block the create.
    await this.docker.getContainer(this.containerName(service)).remove({ force: true }).catch(ignoreStatus(404));
    await this.ensureVolumes(spec);
    const opts = containerCreateOptions(this.project, service, spec, { name: this.containerName(service), image });
    opts.Labels = { ...opts.Labels, [DEPLOY_LABEL]: deployTag };
    const created = await this.docker.createContainer(opts);
    await created.start();
    return created.id;
  }

  /**
   * Restarts the module's container (SIGTERM or its stop_signal, SIGKILL after `stopTimeoutS`),
   * for depends_on's `restart: true`; undefined when it has no container.
   */
  async restart(service: string, stopTimeoutS: number): Promise<{ containerId: string; image: string } | undefined> {
    const [c] = await this.containersOf(service);
    if (!c) return undefined;
    await this.docker.getContainer(c.Id).restart({ t: stopTimeoutS });
    return { containerId: c.Id, image: c.Config.Image };
  }

  /**
   * Waits until the container is healthy (or running, without a health check; or, with
   * `completes`, exited with code 0) or fails why not.
   */
  async waitHealthy(containerId: string, deadlineMs: number, onWait: (state: string) => void, completes = false): Promise<{ startedAt: string }> {
    const end = Date.now() + deadlineMs;
    const container = this.docker.getContainer(containerId);
    for (;;) {
      const c = await container.inspect();
      if (completes && !c.State.Running && !c.State.Restarting && c.State.ExitCode === 0) return { startedAt: c.State.StartedAt };
      if (!c.State.Running && !c.State.Restarting) throw new Error(`exited with code ${c.State.ExitCode}`);
      const health = c.State.Health?.Status;
      const up = health === 'healthy' || (health === undefined && c.State.Running && Date.now() - Date.parse(c.State.StartedAt) > 2000);
      if (up && !completes) return { startedAt: c.State.StartedAt };
      if (Date.now() > end) throw new Error(`${completes ? 'not completed' : 'not healthy'} within ${deadlineMs / 1000}s (${health ?? c.State.Status}: ${lastProbe(c)})`);
      onWait(health ?? c.State.Status);
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  /** Log lines since `since` (RFC 3339, e.g. the container's StartedAt) that match the error pattern. */
  async errorLines(containerId: string, since: string, pattern: RegExp): Promise<string[]> {
    const out: string[] = [];
    const until = normalizeTime(new Date(Date.now() + 1000).toISOString());
    for await (const l of engineLines(this.docker, containerId, { since: normalizeTime(since), until })) if (pattern.test(l.text)) out.push(l.text);
    return out;
  }
}

/** The last health probe's output, for reasons shown to operators. */
function lastProbe(c: Docker.ContainerInspectInfo): string {
  const log = c.State.Health?.Log;
  const last = log?.[log.length - 1];
  return last ? `exit ${last.ExitCode}: ${last.Output.trim().split('\n')[0] ?? ''}` : 'no probe yet';
}

/** Orders engine API versions such as 1.41 and 1.44. */
function compareApi(a: string, b: string): number {
  const [x, y] = [a, b].map((v) => v.split('.').map(Number));
  return x![0]! - y![0]! || (x![1] ?? 0) - (y![1] ?? 0);
}

function ignoreStatus(code: number) {
  return (err: { statusCode?: number }) => {
    if (err.statusCode !== code) throw err;
  };
}
