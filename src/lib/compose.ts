// The modules' compose file: the compose-spec subset Titan restores, normalised into one
// ModuleSpec per service (what the engine makes of it is in compose-container.ts). No I/O; bad
// files get one ConfigError line naming the field.
import { z } from 'zod';
import { interpolate, type Lookup, parseDotenv, VariableError } from './compose-variables';
import { checkDocument, ConfigError, parseYamlDocument } from './validation';

export type DependencyCondition = 'service_started' | 'service_healthy' | 'service_completed_successfully';

export interface DependencySpec {
  condition: DependencyCondition;
  /** Restart this module after Titan redeploys the dependency (compose's `restart: true`). */
  restart: boolean;
}

export interface PortSpec {
  /** Container port. */
  target: number;
  protocol: 'tcp' | 'udp' | 'sctp';
  hostIp?: string;
  /** Host port or range ("8000-8010"); absent = an ephemeral port. */
  published?: string;
}

export interface MountSpec {
  type: 'bind' | 'volume';
  /** Absolute host path (bind) or the engine's volume name (volume); absent = anonymous volume. */
  source?: string;
  target: string;
  readOnly: boolean;
  /**
   * Written in the long syntax: created through the engine's Mounts, as docker-compose does, so a
   * missing bind source is an error (the short syntax's Binds create it).
   */
  long?: true;
}

export interface HealthcheckSpec {
  /** ["CMD", ...], ["CMD-SHELL", cmd] or ["NONE"]; absent = the image's test. */
  test?: string[];
  intervalMs?: number;
  timeoutMs?: number;
  retries?: number;
  startPeriodMs?: number;
  /** Needs Docker Engine 25 (API 1.44); older engines would ignore it, so Titan refuses them. */
  startIntervalMs?: number;
}

/** One service, normalised: equal containers give equal specs whatever form the file used. */
export interface ModuleSpec {
  image: string;
  containerName?: string;
  /** Absent = the image's. */
  command?: string[];
  entrypoint?: string[];
  /** Sorted by name; entries listed without a value take it from the variables, or are left out. */
  environment: Record<string, string>;
  user?: string;
  workingDir?: string;
  /** The service's own labels, sorted. */
  labels: Record<string, string>;
  /** Sorted by target, protocol, host address, published. */
  ports: PortSpec[];
  /** Sorted by target. */
  volumes: MountSpec[];
  healthcheck?: HealthcheckSpec;
  /** Start order and restarts only: not part of the container. */
  dependsOn: Record<string, DependencySpec>;
  restart: { name: 'no' | 'always' | 'on-failure' | 'unless-stopped'; maximumRetryCount: number };
  logging?: { driver?: string; options: Record<string, string> };
  /** Absent = the project's default network, as docker-compose does. */
  networkMode?: string;
  stopGracePeriodMs?: number;
  stopSignal?: string;
  init?: boolean;
  /** Mount point → options ("" for the defaults). */
  tmpfs?: Record<string, string>;
  ulimits?: Record<string, { soft: number; hard: number }>;
  /** Sorted. */
  capAdd?: string[];
  capDrop?: string[];
  /** HOST:IP, sorted. */
  extraHosts?: string[];
  /** deploy.resources.limits.memory. */
  memoryBytes?: number;
  /** deploy.resources.limits.cpus × 10⁹. */
  nanoCpus?: number;
}

export interface VolumeSpec {
  /** Its key under the top-level volumes (compose's com.docker.compose.volume label). */
  key: string;
  /** The engine's volume name: "<project>_<key>" unless named or external. */
  name: string;
  external: boolean;
  driver?: string;
  driverOptions: Record<string, string>;
  labels: Record<string, string>;
}

export interface ComposeProject {
  name: string;
  /** The compose file as given to parseCompose (a path, when absolute, locates relative binds). */
  source: string;
  /** The services enabled by the active profiles (services without profiles always are). */
  services: Record<string, ModuleSpec>;
  volumes: Record<string, VolumeSpec>;
  /** What compose would warn about: variables not set, used as "". */
  warnings: string[];
}

// ---- field schemas -------------------------------------------------------------------------

const mustBe = (what: string) => (issue: { input?: unknown }) => (issue.input === undefined ? 'required' : `must be ${what}`);
const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);
/** A map of scalars as text; `bare` stands for null. */
const scalarMap = <T extends string | null>(bare: T) =>
  z.record(z.string(), scalar).transform((m) => sortedRecord(Object.entries(m).map(([k, v]): [string, string | T] => [k, v === null ? bare : String(v)])));
/** A list of KEY=VALUE or a map; `bare` stands for a KEY without a value. */
const keyValues = <T extends string | null>(bare: T) => z.union([
  z.array(z.string().regex(/^[^=]/, 'must be KEY=VALUE or KEY')).transform((list) => sortedRecord(list.map((item): [string, string | T] => {
    const eq = item.indexOf('=');
    return eq < 0 ? [item, bare] : [item.slice(0, eq), item.slice(eq + 1)];
  }))),
  scalarMap(bare),
], { error: 'must be a list of KEY=VALUE or a map' });
const textMap = scalarMap('');
const labels = keyValues('');
/** A KEY without a value stays null until resolved from the variables. */
const environment = keyValues(null);

const DURATION = /^(?:\d+(?:\.\d+)?(?:ms|h|m|s))+$/;
const UNIT_MS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
const duration = z.string({ error: mustBe('a duration such as 10s or 1m30s') })
  .regex(DURATION, 'must be a duration such as 10s or 1m30s')
  .transform((s) => Math.round([...s.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)].reduce((ms, [, n, unit]) => ms + Number(n) * UNIT_MS[unit!]!, 0)));

/** Strings are split like docker-compose does (shlex, POSIX rules). */
const words = z.union([
  z.string().transform((s, ctx) => {
    const split = splitShell(s);
    if (split) return split;
    ctx.addIssue({ code: 'custom', message: 'has an unclosed quote or a trailing \\' });
    return z.NEVER;
  }),
  z.array(z.string()),
], { error: 'must be a string or a list of strings' });

const PORT_RANGE = /^\d{1,5}(?:-\d{1,5})?$/;
const PORT_SHORT = /^(?:(\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-fA-F:.]+\]):)?(?:(\d{1,5}(?:-\d{1,5})?)?:)?(\d{1,5}(?:-\d{1,5})?)(?:\/(tcp|udp|sctp))?$/;
const protocol = z.enum(['tcp', 'udp', 'sctp']);
const port = z.union([
  z.string().regex(PORT_SHORT, 'must be [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL], e.g. 127.0.0.1:8080:80/tcp')
    .transform((s, ctx) => {
      const [, ip, published, target, proto] = PORT_SHORT.exec(s)!;
      return portRange(target!, published, ctx, { protocol: (proto ?? 'tcp') as PortSpec['protocol'], hostIp: ip?.replace(/^\[(.*)\]$/, '$1') });
    }),
  z.number().int().transform((target, ctx) => portRange(String(target), undefined, ctx, { protocol: 'tcp' })),
  z.strictObject({
    target: z.number({ error: mustBe('a port number') }).int(),
    published: z.union([z.string().regex(PORT_RANGE, 'must be a port or a range such as 8000-8010'), z.number().int()]).optional(),
    host_ip: z.string().optional(),
    protocol: protocol.optional(),
    // Only swarm distinguishes ingress; a single engine always publishes on the host.
    mode: z.enum(['host', 'ingress']).optional(),
  }).transform((p, ctx) => portRange(String(p.target), p.published === undefined ? undefined : String(p.published), ctx,
    { protocol: p.protocol ?? 'tcp', hostIp: p.host_ip })),
], { error: 'must be a port mapping such as "127.0.0.1:8080:80" or a map with target' });

/** Source kept as written: resolved against the project in toModuleSpec. */
const volumeMount = z.union([
  z.string().transform((s, ctx): MountSpec => {
    const [a, b, mode, ...rest] = s.split(':');
    if (rest.length || (mode !== undefined && mode !== 'ro' && mode !== 'rw')) {
      ctx.addIssue({ code: 'custom', message: 'must be [SOURCE:]TARGET[:ro|rw]' });
      return z.NEVER;
    }
    if (b === undefined) return { type: 'volume', target: a!, readOnly: false };
    return { type: /^[./~]/.test(a!) ? 'bind' : 'volume', source: a, target: b, readOnly: mode === 'ro' };
  }),
  z.strictObject({
    type: z.enum(['bind', 'volume'], { error: mustBe('bind or volume') }),
    source: z.string().min(1).optional(),
    target: z.string({ error: mustBe('a path') }),
    read_only: z.boolean().optional(),
  }).transform((v): MountSpec => compact({ type: v.type, source: v.source, target: v.target, readOnly: v.read_only ?? false, long: true as const })),
], { error: 'must be "SOURCE:TARGET[:ro]" or a map with type, source, target' });

const healthcheck = z.strictObject({
  test: z.union([
    z.string().transform((cmd) => ['CMD-SHELL', cmd]),
    z.array(z.string()).refine((t) => (t[0] === 'NONE' && t.length === 1) || (t[0] === 'CMD' && t.length > 1) || (t[0] === 'CMD-SHELL' && t.length === 2),
      'must start with CMD (then the arguments), CMD-SHELL (then one command) or be [NONE]'),
  ], { error: 'must be a command string or a list starting with CMD, CMD-SHELL or NONE' }).optional(),
  interval: duration.optional(),
  timeout: duration.optional(),
  retries: z.number().int().min(0).optional(),
  start_period: duration.optional(),
  start_interval: duration.optional(),
  disable: z.boolean().optional(),
}).superRefine((h, ctx) => {
  if (h.disable && h.test) ctx.addIssue({ code: 'custom', message: 'disable and test cannot be combined' });
}).transform((h): HealthcheckSpec => (h.disable ? { test: ['NONE'] } : compact({
  test: h.test, intervalMs: h.interval, timeoutMs: h.timeout, retries: h.retries, startPeriodMs: h.start_period, startIntervalMs: h.start_interval,
})));

const condition = z.enum(['service_started', 'service_healthy', 'service_completed_successfully']);
const dependsOn = z.union([
  z.array(z.string()).transform((list) => Object.fromEntries(list.map((s): [string, DependencySpec] => [s, { condition: 'service_started', restart: false }]))),
  z.record(z.string(), z.strictObject({
    condition: z.enum(condition.options, { error: mustBe(`one of ${condition.options.join(', ')}`) }),
    restart: z.boolean().default(false),
  })),
], { error: 'must be a list of services or a map of service: {condition, restart}' });

const RESTART = /^(no|always|unless-stopped|on-failure)$|^(on-failure):(\d+)$/;
const restart = z.string().regex(RESTART, 'must be no, always, on-failure[:N] or unless-stopped')
  .transform((s): ModuleSpec['restart'] => {
    const [, name, onFailure, max] = RESTART.exec(s)!;
    return { name: (name ?? onFailure) as ModuleSpec['restart']['name'], maximumRetryCount: Number(max ?? 0) };
  });

/** docker-py's parse_bytes, which docker-compose applies: b, k, m, g (×1024), an optional trailing b. */
const BYTES = /^(\d+(?:\.\d+)?)\s*([bkmg])?b?$/i;
const bytes = z.union([
  z.number().int().nonnegative(),
  z.string().regex(BYTES, 'must be a size such as 512m or 1g').transform((s) => {
    const [, n, unit = 'b'] = BYTES.exec(s)!;
    return Math.trunc(Number(n) * 1024 ** 'bkmg'.indexOf(unit.toLowerCase()));
  }),
], { error: 'must be a size such as 512m or 1g' });
/** Truncated like docker-compose's int(cpus * 1e9). */
const cpus = z.union([z.number().positive(), z.string().regex(/^\d*\.?\d+$/, 'must be a number of CPUs such as 0.5').transform(Number)],
  { error: 'must be a number of CPUs such as 0.5' }).transform((n) => Math.trunc(n * 1e9));

const stringList = (what: string) => z.array(z.string().min(1), { error: `must be a list of ${what}` });
const tmpfs = z.union([z.string(), z.array(z.string())], { error: 'must be a path or a list of paths' })
  .transform((t, ctx) => {
    const out: [string, string][] = [];
    for (const item of typeof t === 'string' ? [t] : t) {
      const colon = item.indexOf(':');
      const [target, options] = colon < 0 ? [item, ''] : [item.slice(0, colon), item.slice(colon + 1)];
      if (!target.startsWith('/')) ctx.addIssue({ code: 'custom', message: `"${item}" must be an absolute path[:options]` });
      out.push([target, options]);
    }
    return sortedRecord(out);
  });
const ulimit = z.union([
  z.number().int().transform((n) => ({ soft: n, hard: n })),
  z.strictObject({ soft: z.number({ error: mustBe('a number') }).int(), hard: z.number({ error: mustBe('a number') }).int() }),
], { error: 'must be a number or a map with soft and hard' });
const extraHosts = z.union([
  z.array(z.string().regex(/^[^:=\s]+[:=]\S+$/, 'must be HOST:IP')).transform((l) => l.map((h) => h.replace(/^([^:=]+)=/, '$1:'))),
  z.record(z.string(), z.string()).transform((m) => Object.entries(m).map(([h, ip]) => `${h}:${ip}`)),
], { error: 'must be a list of HOST:IP or a map of host: ip' }).transform((l) => l.sort());

const service = z.strictObject({
  image: z.string({ error: mustBe('an image reference') }).min(1, 'required'),
  container_name: z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/, 'must be a container name (letters, digits, _ . -)').optional(),
  command: words.optional(),
  entrypoint: words.optional(),
  env_file: z.union([z.string().min(1), z.array(z.string().min(1))], { error: 'must be a path or a list of paths' })
    .transform((f) => (typeof f === 'string' ? [f] : f)).default([]),
  environment: environment.default({}),
  profiles: z.array(z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/, 'must be a profile name (letters, digits, _ . -)'), { error: 'must be a list of profile names' }).optional(),
  working_dir: z.string().min(1).optional(),
  user: z.string({ error: 'must be a string such as "1000:1000" or a user name' }).optional(),
  labels: labels.default({}),
  ports: z.array(port).default([]),
  volumes: z.array(volumeMount).default([]),
  healthcheck: healthcheck.optional(),
  depends_on: dependsOn.default({}),
  restart: restart.prefault('no'),
  logging: z.strictObject({ driver: z.string().min(1).optional(), options: textMap.default({}) }).optional(),
  network_mode: z.string().regex(/^(?!service:)(host|none|bridge|container:.+|[a-zA-Z0-9][a-zA-Z0-9_.-]*)$/,
    'must be host, none, bridge, container:NAME or a network name (service:NAME is not supported)').optional(),
  stop_grace_period: duration.optional(),
  stop_signal: z.string().regex(/^(SIG[A-Z0-9+-]+|\d+)$/, 'must be a signal such as SIGTERM or 15').optional(),
  init: z.boolean({ error: 'must be true or false' }).optional(),
  tmpfs: tmpfs.optional(),
  ulimits: z.record(z.string().regex(/^[a-z]+$/, 'must be a limit name such as nofile'), ulimit).optional(),
  cap_add: stringList('capabilities').transform((l) => l.sort()).optional(),
  cap_drop: stringList('capabilities').transform((l) => l.sort()).optional(),
  extra_hosts: extraHosts.optional(),
  // Only resource limits have a meaning on one engine; replicas, placement etc. are swarm's.
  deploy: z.strictObject({
    resources: z.strictObject({ limits: z.strictObject({ memory: bytes.optional(), cpus: cpus.optional() }).optional() }).optional(),
  }).optional(),
});

const composeFile = z.strictObject({
  // Obsolete in the compose spec, still common: accepted and ignored.
  version: z.union([z.string(), z.number()]).optional(),
  name: z.string().optional(),
  services: z.record(z.string().regex(/^[a-zA-Z0-9._-]+$/, 'must be a service name (letters, digits, . _ -)'), service)
    .refine((s) => Object.keys(s).length > 0, 'must describe at least one service'),
  volumes: z.record(z.string(), z.strictObject({
    name: z.string().min(1).optional(),
    external: z.boolean().default(false),
    driver: z.string().min(1).optional(),
    driver_opts: textMap.default({}),
    labels: labels.default({}),
  }).nullable()).default({}),
});

// ---- parsing -------------------------------------------------------------------------------

export interface ComposeInputs {
  /** The name the environment file gives (the compose label); a top-level `name` must agree. */
  project: string;
  /** The compose file's path; when absolute, it locates `.env`, env_file and relative binds. */
  source: string;
  /** The process environment: it overrides `.env` for interpolation. */
  variables?: Record<string, string | undefined>;
  /** The active profiles (environment file's modules.profiles), like compose's --profile. */
  profiles?: string[];
  /** A file's text, or undefined when it does not exist (`.env`, env_file). */
  readFile?: (path: string) => string | undefined;
}

/** Parses and validates a compose file; throws one ConfigError naming the first bad field. */
export function parseCompose(text: string, opts: ComposeInputs): ComposeProject {
  const { project, source, profiles = [], readFile = () => undefined } = opts;
  const processVars = Object.fromEntries(Object.entries(opts.variables ?? {}).filter((e): e is [string, string] => e[1] !== undefined));
  if (!/^[a-z0-9][a-z0-9_-]*$/.test(project)) {
    // docker-compose lowercases and strips other characters: a name it would change matches no container.
    fail('project', `"${project}" must be lowercase letters, digits, - and _ (docker-compose's project label)`);
  }
  const baseDir = source.startsWith('/') ? source.slice(0, source.lastIndexOf('/')) || '/' : undefined;
  const warnings = new Set<string>();
  const unset = (where: string) => (name: string) => warnings.add(`variable ${name} is not set: using "" (${where})`);

  // Compose's project environment: the .env beside the file, overridden by the process environment.
  const dotenvPath = baseDir && `${baseDir === '/' ? '' : baseDir}/.env`;
  const dotenvText = dotenvPath ? readFile(dotenvPath) : undefined;
  const dotenv = dotenvText === undefined ? [] : variablesOf(dotenvPath!, () => parseDotenv(dotenvText, (n) => own(processVars, n), unset(dotenvPath!)));
  const variables: Record<string, string> = { ...Object.fromEntries(dotenv.filter((e): e is [string, string] => e[1] !== null)), ...processVars };
  const lookup: Lookup = (n) => own(variables, n);

  const doc = parseYamlDocument(text, source, { merge: true });
  if (!isMap(doc)) fail('(top level)', 'must be a map with services');
  if (isMap(doc.services)) {
    for (const [name, svc] of Object.entries(doc.services)) {
      if (isMap(svc) && 'build' in svc) fail(`services.${name}.build`, 'building is not supported: push the image to the registry and name it with image:');
    }
  }
  const interpolated = interpolateValues(withoutExtensions(doc), [], (value, field) => {
    try {
      return interpolate(value, lookup, unset(field));
    } catch (err) {
      if (err instanceof VariableError) fail(field, err.message);
      throw err;
    }
  });
  const result = checkDocument(composeFile, interpolated);
  if (!result.ok) fail(result.field, result.message);
  const file = result.data;
  if (file.name !== undefined && file.name !== project) {
    fail('name', `"${file.name}" differs from the project "${project}" the environment file names`);
  }
  const volumes: Record<string, VolumeSpec> = {};
  for (const [key, v] of Object.entries(file.volumes)) {
    volumes[key] = compact({
      key,
      name: v?.name ?? (v?.external ? key : `${project}_${key}`),
      external: v?.external ?? false,
      driver: v?.driver,
      driverOptions: v?.driver_opts ?? {},
      labels: v?.labels ?? {},
    });
  }
  const enabled = (name: string) => {
    const p = file.services[name]!.profiles;
    return !p?.length || p.some((x) => profiles.includes(x));
  };
  const services: Record<string, ModuleSpec> = {};
  for (const [name, s] of Object.entries(file.services)) {
    const field = `services.${name}`;
    for (const dep of Object.keys(s.depends_on)) {
      if (!own(file.services, dep)) fail(`${field}.depends_on.${dep}`, `no service named "${dep}"`);
      if (enabled(name) && !enabled(dep)) {
        fail(`${field}.depends_on.${dep}`, `service "${dep}" is not enabled: none of its profiles (${file.services[dep]!.profiles!.join(', ')}) is in modules.profiles`);
      }
    }
    // env_file entries in order, then environment: later ones win, as in compose.
    const fromFiles: Record<string, string | null> = {};
    s.env_file.forEach((f, i) => Object.assign(fromFiles, Object.fromEntries(envFile(f, `${field}.env_file${s.env_file.length > 1 ? `.${i}` : ''}`, fromFiles))));
    services[name] = compact({
      image: s.image,
      containerName: s.container_name,
      command: s.command,
      entrypoint: s.entrypoint,
      environment: sortedRecord(Object.entries({ ...fromFiles, ...s.environment }).flatMap(([k, v]): [string, string][] => {
        const value = v ?? own(variables, k);
        return value === undefined ? [] : [[k, value]];
      })),
      user: s.user,
      workingDir: s.working_dir,
      labels: s.labels,
      ports: s.ports.flat().sort((a, b) => compareBy(a, b, ['target', 'protocol', 'hostIp', 'published'])),
      volumes: s.volumes.map((m, i) => resolveMount(m, `${field}.volumes.${i}`)).sort((a, b) => compareBy(a, b, ['target'])),
      healthcheck: s.healthcheck,
      dependsOn: sortedRecord(Object.entries(s.depends_on)),
      restart: s.restart,
      logging: s.logging,
      networkMode: s.network_mode,
      stopGracePeriodMs: s.stop_grace_period,
      stopSignal: s.stop_signal,
      init: s.init,
      tmpfs: s.tmpfs,
      ulimits: s.ulimits && sortedRecord(Object.entries(s.ulimits)),
      capAdd: s.cap_add,
      capDrop: s.cap_drop,
      extraHosts: s.extra_hosts,
      memoryBytes: s.deploy?.resources?.limits?.memory,
      nanoCpus: s.deploy?.resources?.limits?.cpus,
    });
  }
  const cycle = findCycle(services);
  if (cycle) fail(`services.${cycle[0]}.depends_on`, `dependency cycle ${cycle.join(' → ')}`);
  for (const name of Object.keys(services)) if (!enabled(name)) delete services[name];
  return { name: project, source, services, volumes, warnings: [...warnings] };

  function fail(field: string, message: string): never {
    throw new ConfigError(`${source}: ${field}: ${message}`);
  }

  function variablesOf<T>(path: string, read: () => T): T {
    try {
      return read();
    } catch (err) {
      if (err instanceof VariableError) throw new ConfigError(`${path}: ${err.message}`);
      throw err;
    }
  }

  /**
   * An env_file's variables, its bare KEYs still null; relative paths are the compose file's. Its
   * variables may use those of the service's earlier env_files, then the project's (as compose-go does).
   */
  function envFile(path: string, field: string, earlier: Record<string, string | null>): [string, string | null][] {
    if (!path.startsWith('/') && !baseDir) fail(field, `relative path "${path}" needs the compose file's absolute path`);
    const full = normalisePath(path.startsWith('/') ? path : `${baseDir}/${path}`);
    const content = readFile(full) ?? fail(field, `${path}: no such file`);
    try {
      return parseDotenv(content, (n) => own(earlier, n) ?? lookup(n), unset(field));
    } catch (err) {
      if (err instanceof VariableError) fail(field, `${path}: ${err.message}`);
      throw err;
    }
  }

  function resolveMount(m: MountSpec, field: string): MountSpec {
    if (!m.target.startsWith('/')) fail(field, `target "${m.target}" must be an absolute path in the container`);
    if (m.type === 'volume') {
      if (m.source === undefined) return m;
      const volume = own(volumes, m.source) ?? fail(field, `volume "${m.source}" is not declared under the top-level volumes`);
      return { ...m, source: volume.name };
    }
    if (m.source === undefined) return fail(field, 'a bind mount needs a source');
    if (m.source.startsWith('~')) fail(field, `source "${m.source}": ~ is not supported, give the path`);
    if (!m.source.startsWith('/') && !baseDir) fail(field, `relative source "${m.source}" needs the compose file's absolute path`);
    return { ...m, source: normalisePath(m.source.startsWith('/') ? m.source : `${baseDir}/${m.source}`) };
  }
}

/** Compose ignores x-* keys at the top level, in services and in volumes (anchors for YAML merges live there). */
function withoutExtensions(doc: Record<string, unknown>): Record<string, unknown> {
  const strip = (m: Record<string, unknown>) => Object.fromEntries(Object.entries(m).filter(([k]) => !k.startsWith('x-')));
  const top = strip(doc);
  for (const section of ['services', 'volumes']) {
    const entries = top[section];
    if (isMap(entries)) top[section] = Object.fromEntries(Object.entries(entries).map(([k, s]) => [k, isMap(s) ? strip(s) : s]));
  }
  return top;
}

/** Applies `f` to every string value (never to keys), with the value's dotted field. */
function interpolateValues(value: unknown, path: string[], f: (value: string, field: string) => string): unknown {
  if (Array.isArray(value)) return value.map((v, i) => interpolateValues(v, [...path, String(i)], f));
  if (isMap(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolateValues(v, [...path, k], f)]));
  return typeof value === 'string' ? f(value, path.join('.')) : value;
}

function portRange(target: string, published: string | undefined, ctx: z.RefinementCtx, base: Omit<PortSpec, 'target' | 'published'>): PortSpec[] {
  const [t0, t1] = bounds(target);
  const [p0, p1] = published ? bounds(published) : [undefined, undefined];
  if ([t0, t1, p0, p1].some((p) => p !== undefined && (p < 1 || p > 65535)) || t1 < t0 || (p0 !== undefined && p1! < p0)) {
    ctx.addIssue({ code: 'custom', message: 'ports must be 1-65535 and ranges low-high' });
    return z.NEVER;
  }
  const hostIp = base.hostIp ? { hostIp: base.hostIp } : {};
  if (t0 === t1) return [{ target: t0, protocol: base.protocol, ...hostIp, ...(published ? { published } : {}) }];
  // A container range maps one to one onto a host range of the same length.
  if (p0 !== undefined && p1! - p0 !== t1 - t0) {
    ctx.addIssue({ code: 'custom', message: 'the host and container port ranges must have the same length' });
    return z.NEVER;
  }
  return Array.from({ length: t1 - t0 + 1 }, (_, i) => ({
    target: t0 + i, protocol: base.protocol, ...hostIp, ...(p0 !== undefined ? { published: String(p0 + i) } : {}),
  }));
}

function bounds(range: string): [number, number] {
  const [lo, hi = lo] = range.split('-').map(Number);
  return [lo!, hi!];
}

/** shlex.split (POSIX mode, no comments), which docker-compose applies to string commands. */
function splitShell(s: string): string[] | undefined {
  const out: string[] = [];
  let word: string | undefined;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else word += c;
    } else if (quote === '"') {
      if (c === '"') quote = undefined;
      else if (c === '\\' && (s[i + 1] === '"' || s[i + 1] === '\\')) word += s[++i];
      else word += c;
    } else if (/\s/.test(c)) {
      if (word !== undefined) out.push(word);
      word = undefined;
    } else if (c === '"' || c === "'") {
      quote = c;
      word ??= '';
    } else if (c === '\\') {
      if (i + 1 >= s.length) return undefined;
      word = (word ?? '') + s[++i];
    } else {
      word = (word ?? '') + c;
    }
  }
  if (quote) return undefined;
  if (word !== undefined) out.push(word);
  return out;
}

function normalisePath(p: string): string {
  const out: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '..') out.pop();
    else if (seg && seg !== '.') out.push(seg);
  }
  return `/${out.join('/')}`;
}

/** A dependency cycle as a path that ends where it starts, or undefined. */
function findCycle(services: Record<string, ModuleSpec>): string[] | undefined {
  const done = new Set<string>();
  const stack: string[] = [];
  const visit = (name: string): string[] | undefined => {
    const at = stack.indexOf(name);
    if (at >= 0) return [...stack.slice(at), name];
    if (done.has(name)) return undefined;
    stack.push(name);
    for (const dep of Object.keys(services[name]!.dependsOn)) {
      const cycle = visit(dep);
      if (cycle) return cycle;
    }
    stack.pop();
    done.add(name);
    return undefined;
  };
  for (const name of Object.keys(services).sort()) {
    const cycle = visit(name);
    if (cycle) return cycle;
  }
  return undefined;
}

/** Leaves absent fields out, so a spec deep-equals itself after a JSON round trip (workflow arguments). */
function compact<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** record[key] for the record's own keys only: a name such as "constructor" must not find Object's. */
export function own<T>(record: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

export function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function sortedRecord<T>(entries: [string, T][]): Record<string, T> {
  return Object.fromEntries(entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function compareBy<T>(a: T, b: T, keys: (keyof T)[]): number {
  for (const k of keys) {
    const [x, y] = [a[k] ?? '', b[k] ?? ''];
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}
