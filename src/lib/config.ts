// The environment file's schema: every section and its type, one YAML document describing a Titan
// deployment. Parsing and the checks across sections are in environment.ts. Pure: workflows import it.
import { z } from 'zod';
import { TASK_QUEUE } from './names';
import { cron, duration, durationMs, envName, name } from './validation';

/** Metrics and other worker endpoints stay on the loopback interface unless a proxy publishes them. */
export const loopbackAddress = z.string().regex(/^(127\.0\.0\.1|\[::1\]|localhost):\d{1,5}$/, 'must be a loopback address such as 127.0.0.1:9464');

/** A shell command of the environment file (run by /bin/sh, with only PATH in its environment). */
const shellCommand = z.string().trim().min(1, 'must be a command');

/** The host a thing lives on (a name under `hosts:`); without a `hosts:` section there is one implicit host. */
const onHost = name.optional();

const redisInstance = z.strictObject({
  host: onHost,
  url: z.url({ protocol: /^rediss?$/, error: 'must be a redis:// or rediss:// URL without a password' })
    .refine((u) => new URL(u).password === '', 'must not contain a password: use passwordEnv'),
  passwordEnv: envName.optional(),
  /** For a rediss:// URL: the CA that signed Redis's certificate, and a client certificate if Redis asks for one (paths). */
  tls: z.strictObject({ caFile: z.string().min(1), certFile: z.string().min(1).optional(), keyFile: z.string().min(1).optional() })
    .refine((t) => (t.certFile === undefined) === (t.keyFile === undefined), 'certFile and keyFile go together')
    .optional(),
  /**
   * How Redis is stopped and started on restore: a container by name, a process Titan starts from
   * its config file (daemonizing or not), or a service manager's commands.
   */
  runAs: z.union([
    z.strictObject({
      container: z.string().min(1),
      /** Owner of the restored files: the official image runs Redis as 999:999. */
      owner: z.string().regex(/^\d+:\d+$/, 'must be uid:gid').default('999:999'),
    }),
    z.strictObject({
      process: z.strictObject({ pidFile: z.string().min(1), configFile: z.string().min(1), binary: z.string().min(1).default('redis-server') }),
    }),
    z.strictObject({
      /** e.g. systemctl stop/start redis-server; `check` exits 0 while Redis runs (default: Redis answers at url). */
      commands: z.strictObject({ stop: shellCommand, start: shellCommand, check: shellCommand.optional() }),
    }),
  ], { error: 'must be one of { container: … }, { process: { pidFile, configFile } } or { commands: { stop, start, check? } }' }),
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
    /**
     * S3 Object Lock: each snapshot and manifest is written with a retain-until date (creation +
     * its class's retention), so no one holding these keys can delete or replace it before then.
     * The bucket must have been created with Object Lock enabled.
     */
    objectLock: z.strictObject({ mode: z.enum(['COMPLIANCE', 'GOVERNANCE'], { error: 'must be COMPLIANCE or GOVERNANCE' }) }).optional(),
  }),
});

/**
 * Client-side encryption of snapshots: new backups use `current`; restores and verification pick
 * a key by the id their manifest records, so old keys stay listed while any backup uses them.
 */
const keyId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'must be a key id (letters, digits, _ . -)');
const encryption = z.strictObject({
  current: keyId,
  /** Each key: 32 random bytes, base64, in the named environment variable (or the secrets file). */
  keys: z.record(keyId, z.strictObject({ keyEnv: envName })),
}).refine((e) => e.current in e.keys, { message: 'must name one of keys', path: ['current'], when: (p) => p.issues.length === 0 });

const schedule = z.strictObject({
  cron,
  retentionClass: z.enum(['hourly', 'daily']),
  /** The instance backed up: its backups, restored into it. */
  redis: name,
  /** A replica of `redis` the snapshot is streamed from, so the primary never forks. */
  from: name.optional(),
});

/** A Kubernetes object name (RFC 1123 subdomain). */
const kubeName = z.string().regex(/^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/, 'must be a Kubernetes name (lowercase a-z, 0-9, - .)');

const namespaceName = z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'must be a namespace name (lowercase a-z, 0-9, -)');

/**
 * Modules on Kubernetes: Deployments and StatefulSets of one namespace, chosen by a label selector
 * or listed as kind/name (their order is the restore order unless titan.io/depends-on says more).
 */
const kubernetesModules = z.strictObject({
  /** A kubeconfig file (relative to this file)… */
  kubeconfig: z.string().min(1).optional(),
  /** …or the service account of the pod Titan runs in. */
  inCluster: z.literal(true).optional(),
  /** The kubeconfig's context (default: its current context). */
  context: z.string().min(1).optional(),
  namespace: namespaceName,
  selector: z.string().min(1).optional(),
  workloads: z.array(z.string().regex(/^(deployment|statefulset)\/[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/, 'must be deployment/NAME or statefulset/NAME')).min(1).optional(),
  /** The ConfigMap where Titan keeps each workload's last known good spec. */
  recordConfigMap: kubeName.default('titan-last-known-good'),
  /** The image pull secret Titan manages from modules.registry. */
  pullSecret: kubeName.default('titan-registry'),
})
  .refine((k) => (k.kubeconfig === undefined) !== (k.inCluster === undefined), 'needs exactly one of kubeconfig or inCluster')
  .refine((k) => (k.selector === undefined) !== (k.workloads === undefined), 'needs exactly one of selector or workloads');

const modules = z.strictObject({
  /** The host whose Docker engine runs the modules (Compose; Kubernetes is reached over its API). */
  host: onHost,
  /** The docker-compose file whose services are Titan's modules (relative to this file)… */
  composeFile: z.string().min(1).optional(),
  project: name.optional(),
  /** …or the Kubernetes workloads that are. */
  kubernetes: kubernetesModules.optional(),
  /** The compose profiles to enable, like docker-compose's --profile: a service with profiles runs only when one is listed. */
  profiles: z.array(z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/, 'must be a profile name (letters, digits, _ . -)')).default([]),
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
})
  .refine((m) => (m.composeFile === undefined) !== (m.kubernetes === undefined), 'needs exactly one of composeFile or kubernetes')
  .refine((m) => (m.composeFile === undefined) === (m.project === undefined), 'composeFile and project go together');

/** An Elasticsearch/OpenSearch index or data stream name (lowercase, no wildcards). */
const indexName = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,199}$/, 'must be a lowercase index name (a-z, 0-9, . _ -)');

/** Elasticsearch 7/8 or OpenSearch 1/2, through the Elasticsearch API: bulk in, search out. */
const elasticsearchStore = z.strictObject({
  url: z.url({ protocol: /^https?$/ })
    .refine((u) => new URL(u).password === '', 'must not contain a password: use passwordEnv or apiKeyEnv'),
  /** The lines go to one index Titan sets up (an index template, then the index)… */
  index: indexName.optional(),
  /** …or to a data stream (its template made by Titan): rollover keeps indices small. */
  dataStream: indexName.optional(),
  usernameEnv: envName.optional(),
  passwordEnv: envName.optional(),
  /** An API key (the base64 "id:key" Elasticsearch prints as `encoded`), by env var name. */
  apiKeyEnv: envName.optional(),
  /** The CA that signed the cluster's certificate (a path), for https:// URLs. */
  caFile: z.string().min(1).optional(),
  /**
   * Days the cluster keeps logs when something Titan cannot read deletes them (Curator, a cron
   * job, or no ILM/ISM installed): reported as declared. A lifecycle policy, when there is one, wins.
   */
  declaredRetentionDays: z.number().positive().optional(),
})
  .refine((e) => (e.index === undefined) !== (e.dataStream === undefined), 'needs exactly one of index or dataStream')
  .refine((e) => (e.usernameEnv === undefined) === (e.passwordEnv === undefined), 'usernameEnv and passwordEnv go together')
  .refine((e) => !(e.usernameEnv && e.apiKeyEnv), 'takes usernameEnv/passwordEnv or apiKeyEnv, not both');

const logging = z.strictObject({
  /** The central log store: exactly one of VictoriaLogs (LogsQL) or an Elasticsearch-API cluster. */
  store: z.strictObject({
    victorialogs: z.strictObject({
      url: z.url({ protocol: /^https?$/ }),
      /** Optional Authorization header value (e.g. "Basic …"), by env var name. */
      authorizationEnv: envName.optional(),
    }).optional(),
    elasticsearch: elasticsearchStore.optional(),
  }).refine((s) => (s.victorialogs === undefined) !== (s.elasticsearch === undefined), 'needs exactly one store: victorialogs or elasticsearch'),
  /** The `environment` field of every shipped line (default: the environment's name). */
  label: z.string().regex(/^[a-z][a-z0-9-]{0,63}$/, 'must be a lowercase name (a-z, 0-9, -)').optional(),
  /** Only these modules' logs (default: every module of the compose file). */
  modules: z.array(name).min(1).optional(),
  /** The recovery plan keeps logs at least 30 days: a store keeping less is reported. */
  minRetentionDays: z.number().positive().default(30),
  /** How often the shipping schedule ships new lines. */
  shipEvery: duration.default('1m'),
});

// ---- configSync: Titan's configuration in Git -----------------------------------------------

const gitRef = (what: string) => z.string().regex(/^(?!-)(?!.*\.\.)[A-Za-z0-9._/*?[\]-]+$/, `must be a ${what} (letters, digits, . _ / -, not starting with -)`);

/** The environment file's `configSync` section. */
export const configSyncSchema = z.strictObject({
  /** A URL git understands or a path; credentials are never inlined. */
  repo: z.string().min(1)
    .refine((r) => !r.startsWith('-'), 'must be a URL or a path, not an option')
    .refine((r) => !/^[a-z][a-z0-9+.-]*:\/\/[^/@]*:[^/@]*@/i.test(r), 'must not contain a password'),
  branch: gitRef('branch name').refine((b) => !/[*?[\]]/.test(b), 'must be a branch name, not a pattern').default('main'),
  /** When set, the tags matching this glob (newest first) are the candidates instead of the branch. */
  tagPattern: gitRef('tag glob such as config-v*').optional(),
  /** Only commits whose signature is good and from a key the keyring trusts (%G? = G) count as valid. */
  requireSigned: z.boolean().default(false),
  /** The keyring (GNUPGHOME) holding the trusted signers' keys; default: the worker's. */
  gnupgHome: z.string().min(1).optional(),
  /** How many of the newest commits (or tags) are considered: the rollback window. */
  depth: z.number().int().min(1).max(1000).default(50),
  /** The Redis instance (environment file) whose key space receives the keys. */
  redis: name,
  /** Keys are written under this prefix; it is matched with SCAN, so no glob characters. */
  keyPrefix: z.string().regex(/^[^*?[\]\\\s]+$/, 'must be a non-empty prefix without spaces or glob characters (* ? [ ] \\)').default('titan:config:'),
  /** The directory files are rendered under (relative to the environment file). */
  filesRoot: z.string().min(1),
  /** The host the files root is on. */
  host: onHost,
});

export type ConfigSync = z.infer<typeof configSyncSchema>;
/** What decides which commit is the latest valid configuration. */
export type ConfigPolicy = Pick<ConfigSync, 'branch' | 'tagPattern' | 'depth' | 'requireSigned'>;

// ---- recovery: the full-disaster recovery plan's stages and sign-offs ------------------------

export const STAGES = ['redis', 'modules', 'config', 'logs'] as const;
export type StageName = (typeof STAGES)[number];

const approverList = z.array(z.string().regex(/^[^\s,]{1,100}$/, 'must be a user name without spaces or commas'))
  .min(1, 'must name at least one approver');

export const recoverySchema = z.strictObject({
  /**
   * The Redis instances the redis stage restores, in parallel; default: the only one, or `main`,
   * and with `hosts:` every instance that is not only a backup schedule's `from` replica.
   */
  redis: z.union([name, z.array(name).min(1, 'must list at least one instance')]).optional(),
  /** The stages, in plan order; default: every stage whose system the file describes. */
  stages: z.array(z.enum(STAGES, { error: `must be one of ${STAGES.join(', ')}` }))
    .min(1, 'must list at least one stage')
    .refine((s) => new Set(s).size === s.length, 'must not list a stage twice')
    .refine((s) => s.every((x, i) => i === 0 || STAGES.indexOf(x) > STAGES.indexOf(s[i - 1]!)), `must keep the plan's order: ${STAGES.join(', ')}`)
    .optional(),
  /** Who may sign each stage off; `default` for the stages not named. */
  approvers: z.strictObject(Object.fromEntries(['default', ...STAGES].map((k) => [k, approverList.optional()])) as Record<'default' | StageName, z.ZodOptional<typeof approverList>>,
    // Unknown keys keep the shared "did you mean" message (validation.ts).
    { error: (i) => (i.code === 'unrecognized_keys' ? undefined : i.input === undefined ? 'required: who signs off each stage' : 'must map stages (or default) to lists of approvers') }),
  signOff: z.strictObject({
    remindAfter: duration.default('30m'),
    /** Counted from the start of the wait, like remindAfter. */
    escalateAfter: duration.default('2h'),
  }).prefault({})
    // Only once both are durations: a malformed one is reported by its own field.
    .refine((s) => durationMs(s.escalateAfter) > durationMs(s.remindAfter), { message: 'must be longer than remindAfter', path: ['escalateAfter'], when: (p) => p.issues.length === 0 }),
  /** Reminders and escalations are POSTed here; the URL may hold a token, so it is a secret. */
  webhook: z.strictObject({ urlEnv: envName }).optional(),
});

export type RecoveryConfig = z.infer<typeof recoverySchema>;

// ---- recovery.drill: DR drills against sandbox targets ---------------------------------------

export const DEFAULT_DRILL_REDIS_IMAGE = '127.0.0.1:5000/titan/redis:7.0';

export const drillSchema = z.strictObject({
  /** The sandbox Redis: a container of the image on the host network, on 127.0.0.1:<port>. */
  redis: z.strictObject({
    port: z.number().int().min(1).max(65535),
    dataDir: z.string().min(1),
    image: z.string().min(1).default(DEFAULT_DRILL_REDIS_IMAGE),
  }).optional(),
  /**
   * Compose modules: under another compose project, whose compose file must use other ports (host
   * networking). Kubernetes modules: in another namespace of the same cluster, which the drill
   * creates and deletes.
   */
  modules: z.strictObject({
    project: name.optional(),
    composeFile: z.string().min(1).optional(),
    kubernetes: z.strictObject({ namespace: namespaceName }).optional(),
  })
    .refine((m) => (m.composeFile === undefined) !== (m.kubernetes === undefined), 'needs exactly one of composeFile (with project) or kubernetes')
    .refine((m) => (m.composeFile === undefined) === (m.project === undefined), 'composeFile and project go together')
    .optional(),
  /** Configuration files go here; its keys go into the sandbox Redis. */
  config: z.strictObject({ filesRoot: z.string().min(1) }).optional(),
  /** The drill's log lines carry this `environment` label in the central store. */
  logs: z.strictObject({ label: z.string().regex(/^[a-z][a-z0-9-]{0,63}$/, 'must be a lowercase name (a-z, 0-9, -)') }).optional(),
  /** Approve each verified stage as titan-drill and end at the first failed one; false: wait for people. */
  autoSignOff: z.boolean().default(true),
  /** A Temporal Schedule titan-<env>-drill runs the drill regularly. */
  schedule: z.strictObject({ cron }).optional(),
});

export type DrillConfig = z.infer<typeof drillSchema>;

const dockerEngine = z.strictObject({ socketPath: z.string().min(1).default('/var/run/docker.sock') });

export const environmentSchema = z.strictObject({
  environment: name,
  /**
   * Temporal payloads (inputs, results, heartbeats, failures, memos, user metadata) are encrypted
   * with `encryption.current` by the worker and the CLI (infra/payload-codec.ts); decoding picks the
   * key by the id each payload records, so old keys stay listed while any history needs them.
   */
  temporal: z.strictObject({ encryption }).optional(),
  /** The Docker engine that runs containerised Redis instances and the modules. */
  docker: dockerEngine.prefault({}),
  /**
   * The hosts Titan's data lives on, each served by its own worker (`titan worker --host <name>`);
   * a host's Docker engine defaults to the top-level one. Absent: one implicit host (docs/hosts.md).
   */
  hosts: z.record(name, z.strictObject({ docker: dockerEngine.optional() })).optional(),
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
    encryption: encryption.optional(),
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
export type KubernetesModulesConfig = z.infer<typeof kubernetesModules>;
export type LoggingConfig = z.infer<typeof logging>;
export type ElasticsearchStoreConfig = z.infer<typeof elasticsearchStore>;
export type EncryptionConfig = z.infer<typeof encryption>;
export type LocationName = 'primary' | 'offsite';
