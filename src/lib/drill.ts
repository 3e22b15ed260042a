// DR drills: the full-disaster chain run against sandbox targets beside production (the
// `recovery.drill` section), and the sandbox environment derived from the production one, so the
// same stage workflows and activities run unchanged on the drill's own task queue. Pure, so
// workflows may import it.
import type { DrillConfig, Environment, StageName } from './config';
import { drillTaskQueue } from './names';
import { plannedStages, recoveryRedis } from './recovery-plan';

/** Who signs off a drill's verified stages when it signs off itself. */
export const DRILL_SIGNER = 'titan-drill';
/** The label on the sandbox Redis container naming the drill (workflow id) it belongs to. */
export const DRILL_LABEL = 'titan.drill.workflow';

export const drillContainerName = (env: Pick<Environment, 'environment'>) => `titan-drill-${env.environment}-redis`;

const samePath = (a: string, b: string) => a.replace(/\/+$/, '').replace(/^\.\//, '') === b.replace(/\/+$/, '').replace(/^\.\//, '');
const port = (url: string) => new URL(url).port || '6379';

/** The sandbox settings each planned stage needs (config keys go into the sandbox Redis, logs are the sandbox modules'). */
const NEEDS: Record<StageName, (keyof DrillConfig)[]> = { redis: ['redis'], modules: ['modules'], config: ['config', 'redis'], logs: ['logs', 'modules'] };

/** The first problem of the drill section: a planned stage without a sandbox, or a sandbox sharing something with production. */
export function drillProblem(env: Environment): { field: string; message: string } | undefined {
  const d = env.recovery?.drill;
  if (!d) return undefined;
  const f = (k: string) => `recovery.drill.${k}`;
  for (const stage of plannedStages(env)) {
    const missing = NEEDS[stage].find((k) => d[k] === undefined);
    if (missing) return { field: f(missing), message: `stage ${stage} of the recovery plan needs a sandbox setting here` };
  }
  if (d.redis) {
    const clash = Object.entries(env.redis).find(([, r]) => port(r.url) === String(d.redis!.port));
    if (clash) return { field: f('redis.port'), message: `port ${d.redis.port} is production Redis ${clash[0]}'s` };
    const dir = Object.entries(env.redis).find(([, r]) => samePath(r.dataDir, d.redis!.dataDir));
    if (dir) return { field: f('redis.dataDir'), message: `the data directory of production Redis ${dir[0]}` };
  }
  const m = env.modules;
  if (d.modules && m) {
    const k = m.kubernetes;
    if (k && !d.modules.kubernetes) return { field: f('modules.kubernetes'), message: `production's modules run on Kubernetes: the drill's sandbox is another namespace, set here` };
    if (!k && d.modules.kubernetes) return { field: f('modules.kubernetes'), message: "production's modules run by Docker Compose: the drill's need project and composeFile instead" };
    if (k) {
      if (k.namespace === d.modules.kubernetes!.namespace) return { field: f('modules.kubernetes.namespace'), message: `production's namespace ${k.namespace}: the drill creates and deletes its sandbox namespace` };
    } else if (m.project === d.modules.project) return { field: f('modules.project'), message: `production's compose project ${m.project}` };
    else if (samePath(m.composeFile!, d.modules.composeFile!)) return { field: f('modules.composeFile'), message: "production's compose file: the drill's modules must use other ports" };
  }
  const c = env.configSync;
  if (d.config && c && samePath(c.filesRoot, d.config.filesRoot)) return { field: f('config.filesRoot'), message: "production's files root" };
  const label = env.logging && (env.logging.label ?? env.environment);
  if (d.logs && label === d.logs.label) return { field: f('logs.label'), message: `production's log label ${label}: the drill's lines must be told apart` };
  return undefined;
}

/**
 * The environment a drill runs in: only the planned stages' systems, each on its sandbox target;
 * the same backup locations (restores only read them); no schedules; its own task queue and name
 * `<env>-drill`, so its child workflows are filtered apart and its logs stage never pauses
 * production's shipping schedule (titan-<env>-drill-log-shipping does not exist).
 */
export function drillEnvironment(env: Environment): Environment {
  const d = env.recovery?.drill;
  if (!d) throw new Error(`environment ${env.environment} has no recovery.drill section`);
  const stages = plannedStages(env);
  const has = (...s: StageName[]) => s.some((x) => stages.includes(x));
  const instance = recoveryRedis(env)!;
  const prod = env.redis[instance]!;
  return {
    ...env,
    environment: `${env.environment}-drill`,
    taskQueue: drillTaskQueue(env.taskQueue),
    // The sandbox is served by the drill's own worker: no host queues (docs/hosts.md).
    hosts: undefined,
    metrics: undefined,
    redis: d.redis ? {
      [instance]: {
        ...prod,
        url: `${new URL(prod.url).protocol}//127.0.0.1:${d.redis.port}`,
        runAs: { container: drillContainerName(env), owner: '999:999' },
        dataDir: d.redis.dataDir,
      },
    } : {},
    // Probes name production's ports; the sandbox modules are checked by their health checks.
    modules: has('modules', 'logs') && env.modules && d.modules ? { ...env.modules, ...sandboxModules(env, d), probes: {} } : undefined,
    configSync: has('config') && env.configSync && d.config ? { ...env.configSync, filesRoot: d.config.filesRoot, redis: instance } : undefined,
    logging: has('logs') && env.logging && d.logs ? { ...env.logging, label: d.logs.label } : undefined,
    recovery: { ...env.recovery!, redis: instance, stages, drill: undefined },
    backups: { ...env.backups, schedules: {} },
  };
}

/** Where the drill's modules run: the drill's compose project and file, or production's cluster with the sandbox namespace. */
function sandboxModules(env: Environment, d: DrillConfig) {
  const m = d.modules!;
  const k = env.modules!.kubernetes;
  return k && m.kubernetes ? { kubernetes: { ...k, namespace: m.kubernetes.namespace } } : { project: m.project, composeFile: m.composeFile };
}
