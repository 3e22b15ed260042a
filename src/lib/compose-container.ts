// Using a parsed compose project: start order, restarts that follow a redeploy, the configuration
// hash, and the container docker-compose would create for a service (labels, create options).
import type Docker from 'dockerode';
import { type ComposeProject, type ModuleSpec, type PortSpec, isMap, own, sortedRecord } from './compose';
import { wavesOf } from './dependency-waves';
import { sha256Hex } from './sha256';

/** Start order: each wave's services depend only on earlier waves (or on services outside `only`). */
export function dependencyWaves(project: ComposeProject, only?: string[]): string[][] {
  const names = only ?? Object.keys(project.services);
  for (const name of names) if (!own(project.services, name)) throw new Error(`no service named "${name}" in project ${project.name}`);
  return wavesOf(Object.fromEntries(Object.entries(project.services).map(([n, s]) => [n, Object.keys(s.dependsOn)])), names);
}

/**
 * A one-shot job: some module waits for it to complete successfully (service_completed_successfully),
 * so exited with code 0 is its healthy state.
 */
export function completesOnce(project: ComposeProject, service: string): boolean {
  return Object.values(project.services).some((s) => own(s.dependsOn, service)?.condition === 'service_completed_successfully');
}

/** For each module, the modules to restart after it is redeployed (depends_on with restart: true), sorted. */
export function restartedWith(project: ComposeProject): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [name, s] of Object.entries(project.services).sort(([a], [b]) => (a < b ? -1 : 1))) {
    for (const [dep, d] of Object.entries(s.dependsOn)) if (d.restart) (out[dep] ??= []).push(name);
  }
  return out;
}

/** SHA-256 of everything that shapes the container (not the start order), independent of key order. */
export function configHash(spec: ModuleSpec): string {
  const { dependsOn, ...container } = spec;
  return sha256Hex(canonicalJson(container));
}

function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (isMap(v)) {
    const keys = Object.keys(v).filter((k) => v[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** The docker-compose release whose labels we reproduce (Debian 12's). */
export const COMPOSE_VERSION = '1.29.2';

/**
 * The labels docker-compose 1.29 puts on a service's container, so `docker-compose ps`/`down`
 * treat ours as the project's own. The version label is required: compose 1.29's `up` compares
 * it (LooseVersion) and fails on a container without one.
 */
export function composeLabels(project: ComposeProject, service: string, spec: ModuleSpec): Record<string, string> {
  const files = project.source.startsWith('/')
    ? { 'com.docker.compose.project.config_files': project.source, 'com.docker.compose.project.working_dir': project.source.slice(0, project.source.lastIndexOf('/')) || '/' }
    : {};
  return sortedRecord(Object.entries({
    ...spec.labels,
    ...files,
    'com.docker.compose.project': project.name,
    'com.docker.compose.service': service,
    'com.docker.compose.oneoff': 'False',
    'com.docker.compose.container-number': '1',
    'com.docker.compose.version': COMPOSE_VERSION,
    'com.docker.compose.config-hash': configHash(spec),
  }));
}

/** docker-compose's network for services without network_mode; the caller creates it if missing. */
export function defaultNetworkName(project: ComposeProject): string {
  return `${project.name}_default`;
}

/** The engine's create request for the service's container; `image` may be pinned to a digest. */
export function containerCreateOptions(project: ComposeProject, service: string, spec: ModuleSpec, opts: { name: string; image: string }): Docker.ContainerCreateOptions {
  const key = (p: PortSpec) => `${p.target}/${p.protocol}`;
  const portBindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const p of spec.ports) (portBindings[key(p)] ??= []).push({ HostIp: p.hostIp ?? '', HostPort: p.published ?? '' });
  const ns = (ms: number | undefined) => (ms === undefined ? undefined : ms * 1_000_000);
  const h = spec.healthcheck;
  const network = spec.networkMode ?? defaultNetworkName(project);
  const short = spec.volumes.filter((m) => !m.long);
  const anonymous = short.filter((m) => m.source === undefined);
  const mounts = spec.volumes.filter((m) => m.long).map((m) => ({ Type: m.type, Source: m.source ?? '', Target: m.target, ReadOnly: m.readOnly }));
  return {
    name: opts.name,
    Image: opts.image,
    Env: Object.entries(spec.environment).map(([k, v]) => `${k}=${v}`),
    Cmd: spec.command,
    Entrypoint: spec.entrypoint,
    Labels: composeLabels(project, service, spec),
    User: spec.user,
    WorkingDir: spec.workingDir,
    Healthcheck: h && {
      Test: h.test ?? [], Interval: ns(h.intervalMs), Timeout: ns(h.timeoutMs), Retries: h.retries, StartPeriod: ns(h.startPeriodMs),
      ...(h.startIntervalMs === undefined ? {} : { StartInterval: ns(h.startIntervalMs) }),
    },
    ExposedPorts: Object.fromEntries(spec.ports.map((p) => [key(p), {}])),
    Volumes: anonymous.length ? Object.fromEntries(anonymous.map((m) => [m.target, {}])) : undefined,
    StopTimeout: spec.stopGracePeriodMs === undefined ? undefined : Math.ceil(spec.stopGracePeriodMs / 1000),
    StopSignal: spec.stopSignal,
    HostConfig: {
      NetworkMode: network,
      PortBindings: portBindings,
      // Binds (not Mounts), like `docker run -v`: a missing host directory is created, as compose's short form does.
      Binds: short.filter((m) => m.source !== undefined).map((m) => `${m.source}:${m.target}:${m.readOnly ? 'ro' : 'rw'}`),
      Mounts: mounts.length ? mounts : undefined,
      RestartPolicy: { Name: spec.restart.name, MaximumRetryCount: spec.restart.maximumRetryCount },
      LogConfig: spec.logging && { Type: spec.logging.driver ?? '', Config: spec.logging.options },
      Init: spec.init,
      Tmpfs: spec.tmpfs,
      Ulimits: spec.ulimits && Object.entries(spec.ulimits).map(([Name, l]) => ({ Name, Soft: l.soft, Hard: l.hard })),
      CapAdd: spec.capAdd,
      CapDrop: spec.capDrop,
      ExtraHosts: spec.extraHosts,
      Memory: spec.memoryBytes,
      NanoCpus: spec.nanoCpus,
    },
    // On compose's default network the service name resolves to its container, as with docker-compose.
    NetworkingConfig: spec.networkMode === undefined ? { EndpointsConfig: { [network]: { Aliases: [service] } } } : undefined,
  };
}
