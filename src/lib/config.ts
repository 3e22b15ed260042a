// The environment file: one YAML document describing a Titan deployment. Parsed and validated
// here (pure: no I/O), so a bad file is refused with one line naming the field before anything runs.
import { z } from 'zod';
import { TASK_QUEUE } from './shared';
import { configSyncSchema } from './config-source';
import { recoveryProblem, recoverySchema } from './recovery-plan';
import { ConfigError, cron, duration, durationMs, envName, firstIssue, name, parseYamlDocument } from './validation';
import { drillProblem, drillSchema } from './drill';

/** Metrics and other worker endpoints stay on the loopback interface unless a proxy publishes them. */
export const loopbackAddress = z.string().regex(/^(127\.0\.0\.1|\[::1\]|localhost):\d{1,5}$/, 'must be a loopback address such as 127.0.0.1:9464');

const redisInstance = z.strictObject({
  url: z.url({ protocol: /^rediss?$/, error: 'must be a redis:// or rediss:// URL without a password' })
    .refine((u) => new URL(u).password === '', 'must not contain a password: use passwordEnv'),
  passwordEnv: envName.optional(),
  /** How Redis is stopped and started on restore: a container by name, or a process run by the stack. */
  runAs: z.union([
    z.strictObject({
      container: z.string().min(1),
      /** Owner of the restored files: the official image runs Redis as 999:999. */
      owner: z.string().regex(/^\d+:\d+$/, 'must be uid:gid').default('999:999'),
    }),
    z.strictObject({
      process: z.strictObject({ pidFile: z.string().min(1), configFile: z.string().min(1), binary: z.string().min(1).default('redis-server') }),
    }),
  ]),
  dataDir: z.string().min(1),
  persistence: z.enum(['rdb', 'aof']).default('rdb'),
});

const s3Location = z.strictObject({
  s3: z.strictObject({
    endpoint: z.url({ protocol: /^https?$/ }),
    region: z.string().default('us-east-1'),
    bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be a valid S3 bucket name'),
    prefix: z.string().regex(/^([^/].*\/)?$/, 'must be empty or end with "/" and not start with "/"').default(''),
    accessKeyIdEnv: envName,
    secretAccessKeyEnv: envName,
  }),
});

const schedule = z.strictObject({
  cron,
  retentionClass: z.enum(['hourly', 'daily']),
  redis: name,
});

const modules = z.strictObject({
  /** The docker-compose file whose services are Titan's modules (relative to this file). */
  composeFile: z.string().min(1),
  project: name,
  registry: z.strictObject({
    address: z.string().regex(/^[a-z0-9.-]+(:\d+)?$/, 'must be host[:port]'),
    usernameEnv: envName,
    passwordEnv: envName,
  }),
  /** How long a module gets to stop on SIGTERM before it is killed. */
  stopTimeout: duration.default('10s'),
  /** How long a redeployed module gets to become healthy. */
  healthDeadline: duration.default('60s'),
  /** Optional HTTP probes per service, checked after the healthcheck passes. */
  probes: z.record(z.string(), z.strictObject({ url: z.url({ protocol: /^https?$/ }), expectStatus: z.number().int().default(200) })).default({}),
  /** Log lines (since the module started) that count as errors. */
  errorPattern: z.string().default('\\b(ERROR|FATAL|PANIC)\\b'),
});

const logging = z.strictObject({
  /** The central log store; its Elasticsearch bulk endpoint takes the lines, LogsQL reads them back. */
  store: z.strictObject({
    victorialogs: z.strictObject({
      url: z.url({ protocol: /^https?$/ }),
      /** Optional Authorization header value (e.g. "Basic …"), by env var name. */
      authorizationEnv: envName.optional(),
    }),
  }),
  /** The `environment` field of every shipped line (default: the environment's name). */
  label: z.string().regex(/^[a-z][a-z0-9-]{0,63}$/, 'must be a lowercase name (a-z, 0-9, -)').optional(),
  /** Only these modules' logs (default: every module of the compose file). */
  modules: z.array(name).min(1).optional(),
  /** The recovery plan keeps logs at least 30 days: a store keeping less is reported. */
  minRetentionDays: z.number().positive().default(30),
  /** How often the shipping schedule ships new lines. */
  shipEvery: duration.default('1m'),
});

export const environmentSchema = z.strictObject({
  environment: name,
  /** The Docker engine that runs containerised Redis instances and the modules. */
  docker: z.strictObject({ socketPath: z.string().min(1).default('/var/run/docker.sock') }).prefault({}),
  /** Optional dotenv file holding secret values (the local stack generates one); the process env wins. */
  secretsFile: z.string().optional(),
  taskQueue: z.string().min(1).default(TASK_QUEUE),
  redis: z.record(name, redisInstance).refine((r) => Object.keys(r).length > 0, 'must describe at least one Redis instance'),
  modules: modules.optional(),
  /** Titan's configuration in Git, re-synced by `titan config resync`. */
  configSync: configSyncSchema.optional(),
  /** Where the worker serves Prometheus metrics (TITAN_METRICS_ADDRESS overrides it). */
  metrics: z.strictObject({ listen: loopbackAddress }).optional(),
  /** Titan's log shipping to the central store, resumed by `titan logs resume`. */
  logging: logging.optional(),
  // The drill section extends the recovery one here: drill.ts builds on recovery-plan.ts, not the reverse.
  recovery: recoverySchema.extend({ drill: drillSchema.optional() }).optional(),
  backups: z.strictObject({
    partSizeMiB: z.number().int().min(5).max(512).default(8),
    queueSize: z.number().int().min(1).max(32).default(8),
    locations: z.strictObject({ primary: s3Location, offsite: s3Location.optional() }),
    retention: z.strictObject({
      hourlyHours: z.number().positive().default(48),
      dailyDays: z.number().min(30, 'must be at least 30: the recovery plan keeps daily snapshots ≥ 30 days').default(35),
      orphanGraceHours: z.number().positive().default(6),
    }).prefault({}),
    schedules: z.record(name, schedule).default({}),
    catchupWindow: duration.default('1h'),
  }),
});

export type Environment = z.infer<typeof environmentSchema>;
export type RedisInstance = Environment['redis'][string];
export type S3Location = z.infer<typeof s3Location>['s3'];
export type ModulesConfig = z.infer<typeof modules>;
export type LoggingConfig = z.infer<typeof logging>;
export type LocationName = 'primary' | 'offsite';

export { ConfigError, durationMs };

/** Parses and validates the environment file text; throws one ConfigError naming the first bad field. */
export function parseEnvironment(text: string, source: string): Environment {
  const doc = parseYamlDocument(text, source);
  const result = environmentSchema.safeParse(doc);
  if (!result.success) {
    const { field, message } = firstIssue(result.error.issues[0]!);
    throw new ConfigError(`${source}: ${field}: ${message}`);
  }
  const env = result.data;
  // A restore into one instance must never touch another's files (drills restore beside production).
  const dirs = new Map<string, string>();
  for (const [n, r] of Object.entries(env.redis)) {
    const dir = r.dataDir.replace(/\/+$/, '');
    const other = dirs.get(dir);
    if (other) throw new ConfigError(`${source}: redis.${n}.dataDir: the same data directory as redis.${other}; a restore into one would overwrite the other`);
    dirs.set(dir, n);
  }
  if (env.logging && !env.modules) throw new ConfigError(`${source}: logging: needs a modules section (the log sources are the modules' containers)`);
  if (env.configSync && !env.redis[env.configSync.redis]) throw new ConfigError(`${source}: configSync.redis: no Redis instance named "${env.configSync.redis}"`);
  for (const [id, s] of Object.entries(env.backups.schedules)) {
    if (!env.redis[s.redis]) throw new ConfigError(`${source}: backups.schedules.${id}.redis: no Redis instance named "${s.redis}"`);
  }
  const recovery = recoveryProblem(env) ?? drillProblem(env);
  if (recovery) throw new ConfigError(`${source}: ${recovery.field}: ${recovery.message}`);
  return env;
}

/** Reads `NAME=value` lines (the dotenv subset `node --env-file` accepts). */
export function parseDotenv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (m && !line.trimStart().startsWith('#')) out[m[1]!] = m[2]!.replace(/^(['"])(.*)\1$/, '$2');
  }
  return out;
}
