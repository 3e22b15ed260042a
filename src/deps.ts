// The one place that builds the clients of outside systems from the environment file: once by the
// worker for its activities, per command by the CLI. Secrets are
// resolved here, inside the worker, and never travel through workflow arguments or results.
import { readFileSync } from 'node:fs';
import { ApplicationFailure } from '@temporalio/common';
import Docker from 'dockerode';
import { Keyring } from './infra/backup-keys';
import { BackupStore } from './infra/backup-store';
import { titanDataConverter } from './infra/data-converter';
import { ConfigRepo } from './infra/config-repo';
import type { ConfigSyncContext } from './infra/config-state';
import type { LogsContext } from './infra/log-check';
import { spoolContainerLog } from './infra/log-spool';
import { ElasticsearchStore } from './infra/es-log-store';
import { type LogStore, VictoriaLogsStore } from './infra/log-store';
import { noMetrics, type TitanMetrics } from './infra/metrics';
import { ComposeModules, type ModulesContext } from './infra/compose-modules';
import { KubernetesModules } from './infra/kubernetes-modules';
import { ModuleEngine, type RegistryAuth } from './infra/module-engine';
import type { ModuleOrchestrator } from './infra/module-orchestrator';
import type { RedisTarget } from './infra/redis-control';
import type { RedisEndpoint } from './infra/redis-sync';
import { parseCompose } from './lib/compose';
import { type EncryptionConfig, type Environment, type KubernetesModulesConfig, type LocationName } from './lib/config';
import { ErrorType } from './lib/errors';
import { ScheduleId } from './lib/names';
import { type RecoveryPlan, resolveRecoveryPlan } from './lib/recovery-plan';
import type { RetentionPolicy } from './lib/retention';
import { sha256Hex } from './lib/sha256';
import { ConfigError, durationMs } from './lib/validation';
import type { LoadedEnvironment } from './load-environment';

export type { ConfigSyncContext, LogsContext, ModulesContext };

export interface Deps {
  environment: string;
  redis(name: string): RedisEndpoint & { address: string };
  /** A Redis instance with what a restore needs: how to stop and start it, where its files are. */
  redisTarget(name: string): RedisTarget;
  /** The Docker engine, connected on first use. */
  docker(): Docker;
  /** Titan's modules: the compose file read now (it may have changed), the registry login, the limits. */
  modules(): ModulesContext;
  /** What runs Titan's modules: Kubernetes (modules.kubernetes) or the compose project of modules(). */
  moduleOrchestrator(): ModuleOrchestrator;
  /** Titan's configuration repository and where its keys and files go. */
  configSync(): ConfigSyncContext;
  /** The central log store and the modules whose logs go there. */
  logs(): LogsContext;
  /** The full-disaster recovery: its plan from the environment file, and where its reminders go. */
  recovery: RecoveryContext;
  stores: { primary: BackupStore; offsite?: BackupStore };
  /** Every configured location, primary first. */
  allStores: BackupStore[];
  store(name: LocationName): BackupStore;
  partSize: number;
  queueSize: number;
  retention: RetentionPolicy;
  /** Titan's Prometheus metrics; the worker replaces the no-op with the runtime's exporter. */
  metrics: TitanMetrics;
}

export interface RecoveryContext {
  plan(opts: { incidentAt?: string }): RecoveryPlan;
  /** The webhook, if configured: its URL may hold a token, so it is resolved only when sending. */
  webhook?: { urlEnv: string; url(): string };
}

export function buildDeps(loaded: LoadedEnvironment): Deps {
  const { env, secret } = loaded;
  const locations = env.backups.locations;
  const keyring = new Keyring(env.backups.encryption, secret);
  const makeStore = (name: LocationName) => {
    const loc = locations[name]!.s3;
    const field = `backups.locations.${name}.s3`;
    return new BackupStore(name, loc, {
      accessKeyId: secret(loc.accessKeyIdEnv, `${field}.accessKeyIdEnv`),
      secretAccessKey: secret(loc.secretAccessKeyEnv, `${field}.secretAccessKeyEnv`),
    }, keyring);
  };
  const redis = (name: string) => {
    const r = env.redis[name];
    if (!r) throw ApplicationFailure.nonRetryable(`no Redis instance named "${name}" in ${loaded.file}`, ErrorType.RedisUnknown);
    return r;
  };
  const endpoint = (name: string) => {
    const r = redis(name);
    const u = new URL(r.url);
    return {
      url: r.url,
      address: `${u.hostname}:${u.port || 6379}`,
      password: r.passwordEnv ? secret(r.passwordEnv, `redis.${name}.passwordEnv`) : undefined,
      tls: r.tls && { caFile: loaded.resolvePath(r.tls.caFile), certFile: r.tls.certFile && loaded.resolvePath(r.tls.certFile), keyFile: r.tls.keyFile && loaded.resolvePath(r.tls.keyFile) },
    };
  };
  let docker: Docker | undefined;
  let repo: ConfigRepo | undefined;
  let store: LogStore | undefined;
  let kubernetes: KubernetesModules | undefined;
  const getDocker = () => (docker ??= new Docker({ socketPath: loaded.resolvePath(env.docker.socketPath) }));
  const stores = { primary: makeStore('primary'), offsite: locations.offsite ? makeStore('offsite') : undefined };
  const registryAuth = (m: NonNullable<Environment['modules']>) => (): RegistryAuth => ({
    username: secret(m.registry.usernameEnv, 'modules.registry.usernameEnv'),
    password: secret(m.registry.passwordEnv, 'modules.registry.passwordEnv'),
    serveraddress: m.registry.address,
  });
  const moduleOrchestrator = (): ModuleOrchestrator => {
    const m = env.modules;
    if (!m?.kubernetes) return new ComposeModules(modulesContext());
    return (kubernetes ??= new KubernetesModules({
      config: kubernetesModulesConfig(loaded)!,
      auth: registryAuth(m),
      healthDeadlineMs: durationMs(m.healthDeadline),
    }));
  };
  const modulesContext = (): ModulesContext => {
    const m = env.modules;
    if (!m) throw ApplicationFailure.nonRetryable(`${loaded.file} has no modules section`, ErrorType.ModulesNotConfigured);
    if (!m.composeFile || !m.project) {
      throw ApplicationFailure.nonRetryable(`${loaded.file}: modules run on Kubernetes (modules.kubernetes); this needs modules run by Docker Compose`, ErrorType.ModulesNotConfigured);
    }
    const file = loaded.resolvePath(m.composeFile);
    let project;
    try {
      project = parseCompose(readFileSync(file, 'utf8'), { project: m.project, source: file, variables: process.env, profiles: m.profiles, readFile: readIfExists });
    } catch (err) {
      throw ApplicationFailure.nonRetryable((err as Error).message, ErrorType.ConfigInvalid);
    }
    return {
      engine: new ModuleEngine(getDocker(), project),
      auth: registryAuth(m),
      stopTimeoutS: Math.ceil(durationMs(m.stopTimeout) / 1000),
      healthDeadlineMs: durationMs(m.healthDeadline),
      probes: m.probes,
      errorPattern: new RegExp(m.errorPattern),
      spoolLog: env.logging && ((service, container) => spoolContainerLog(getDocker(), stores.primary, project.name, service, container)),
    };
  };
  return {
    environment: env.environment,
    redis: endpoint,
    redisTarget(name) {
      const r = redis(name);
      const runAs = r.runAs;
      return {
        name,
        endpoint: endpoint(name),
        dataDir: loaded.resolvePath(r.dataDir),
        persistence: r.persistence,
        runAs: 'process' in runAs
          ? { kind: 'process', pidFile: loaded.resolvePath(runAs.process.pidFile), configFile: loaded.resolvePath(runAs.process.configFile), binary: runAs.process.binary }
          : 'commands' in runAs
            ? { kind: 'commands', ...runAs.commands }
            : { kind: 'container', container: runAs.container, uid: Number(runAs.owner.split(':')[0]), gid: Number(runAs.owner.split(':')[1]) },
      };
    },
    docker: getDocker,
    configSync() {
      const c = env.configSync;
      if (!c) throw ApplicationFailure.nonRetryable(`${loaded.file} has no configSync section`, ErrorType.ConfigSyncNotConfigured);
      const local = !/^[a-z][a-z0-9+.-]*:/i.test(c.repo) && !c.repo.includes('@');
      const url = local ? loaded.resolvePath(c.repo) : c.repo;
      // One mirror per repository URL, beside the environment file's other state.
      const cacheDir = loaded.resolvePath(`.titan/config-cache/${sha256Hex(url).slice(0, 16)}`);
      repo ??= new ConfigRepo(url, cacheDir, { gnupgHome: c.gnupgHome && loaded.resolvePath(c.gnupgHome) });
      return { repo, policy: c, redis: endpoint(c.redis), keyPrefix: c.keyPrefix, filesRoot: loaded.resolvePath(c.filesRoot) };
    },
    logs() {
      const l = env.logging;
      if (!l) throw ApplicationFailure.nonRetryable(`${loaded.file} has no logging section`, ErrorType.LoggingNotConfigured);
      const { engine } = modulesContext();
      const configured = l.modules ?? Object.keys(engine.project.services).sort();
      store ??= logStore(loaded);
      return {
        store,
        spool: stores.primary,
        docker: getDocker(),
        project: engine.project.name,
        modules(only) {
          for (const m of only ?? []) engine.spec(m); // an unknown module: one clear error
          return only?.length ? only : configured;
        },
        minRetentionDays: l.minRetentionDays,
        shippingScheduleId: ScheduleId.logShipping(env),
      };
    },
    modules: modulesContext,
    moduleOrchestrator,
    recovery: {
      plan(opts) {
        try {
          return resolveRecoveryPlan(env, opts);
        } catch (err) {
          if (err instanceof ConfigError) throw ApplicationFailure.nonRetryable(`${loaded.file}: ${err.message}`, ErrorType.ConfigInvalid);
          throw err;
        }
      },
      webhook: env.recovery?.webhook && { urlEnv: env.recovery.webhook.urlEnv, url: () => secret(env.recovery!.webhook!.urlEnv, 'recovery.webhook.urlEnv') },
    },
    stores,
    allStores: [stores.primary, ...(stores.offsite ? [stores.offsite] : [])],
    store(name) {
      const s = stores[name];
      if (!s) throw new Error(`no ${name} backup location in ${loaded.file}`);
      return s;
    },
    partSize: env.backups.partSizeMiB * 1024 * 1024,
    queueSize: env.backups.queueSize,
    retention: env.backups.retention,
    metrics: noMetrics,
  };
}

/** modules.kubernetes with its kubeconfig resolved against the environment file; undefined for compose modules. */
export function kubernetesModulesConfig(loaded: LoadedEnvironment): KubernetesModulesConfig | undefined {
  const k = loaded.env.modules?.kubernetes;
  return k && { ...k, kubeconfig: k.kubeconfig && loaded.resolvePath(k.kubeconfig) };
}

/**
 * The Temporal data converter of this environment: payloads encrypted with temporal.encryption's
 * current key (none configured: plaintext). Throws naming the key when the current one is missing.
 */
export function buildDataConverter(loaded: LoadedEnvironment, onMissingKey?: (keyId: string, message: string) => void) {
  const e = loaded.env.temporal?.encryption;
  return titanDataConverter(e && payloadKeyring(e, loaded.secret), onMissingKey);
}

/** The keys of temporal.encryption, resolved by `secret` (the environment file's, or a test's). */
export function payloadKeyring(encryption: EncryptionConfig, secret: LoadedEnvironment['secret']): Keyring {
  return new Keyring(encryption, secret, 'temporal.encryption', ErrorType.PayloadKeyMissing);
}

/** The environment file's log store; its secrets resolved here, its CA read here. */
function logStore(loaded: LoadedEnvironment): LogStore {
  const { env, secret } = loaded;
  const l = env.logging!;
  const label = l.label ?? env.environment;
  const vl = l.store.victorialogs;
  if (vl) return new VictoriaLogsStore(vl.url, label, vl.authorizationEnv && secret(vl.authorizationEnv, 'logging.store.victorialogs.authorizationEnv'));
  const es = l.store.elasticsearch!;
  const field = 'logging.store.elasticsearch';
  let ca: Buffer | undefined;
  if (es.caFile) {
    try {
      ca = readFileSync(loaded.resolvePath(es.caFile));
    } catch (err) {
      throw ApplicationFailure.nonRetryable(`${field}.caFile: cannot read ${es.caFile}: ${(err as Error).message}`, ErrorType.ConfigInvalid);
    }
  }
  return new ElasticsearchStore({
    url: es.url,
    target: es.index ? { index: es.index } : { dataStream: es.dataStream! },
    environment: label,
    auth: es.apiKeyEnv ? { apiKey: secret(es.apiKeyEnv, `${field}.apiKeyEnv`) }
      : es.usernameEnv ? { username: secret(es.usernameEnv, `${field}.usernameEnv`), password: secret(es.passwordEnv!, `${field}.passwordEnv`) }
        : undefined,
    ca,
    declaredRetentionDays: es.declaredRetentionDays,
  });
}

/** A file's text, or undefined when there is none (the compose file's `.env` is optional). */
function readIfExists(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
