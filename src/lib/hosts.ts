// Which host each part of Titan lives on, and the task queue its worker polls. Without a `hosts:`
// section there is one implicit host served by every worker on the orchestration queue, so a
// single-host file runs exactly as before (no route: activities go to the workflow's own queue).
// Pure, so workflows may import it.
import type { Environment } from './config';
import { hostTaskQueue } from './names';

/** Where a host-bound activity is sent: small, no secrets, carried in workflow plans. */
export interface HostRoute {
  host: string;
  taskQueue: string;
}

/** The route to a declared host; undefined for the implicit host (the orchestration queue). */
export function hostRoute(env: Pick<Environment, 'environment' | 'hosts'>, host: string | undefined): HostRoute | undefined {
  if (!env.hosts || host === undefined) return undefined;
  return { host, taskQueue: hostTaskQueue(env, host) };
}

/** The host a part names, or the only declared host when it names none. */
export function hostOf(env: Pick<Environment, 'hosts'>, part: { host?: string } | undefined): string | undefined {
  const declared = Object.keys(env.hosts ?? {});
  return part?.host ?? (declared.length === 1 ? declared[0] : undefined);
}

export const redisRoute = (env: Environment, redis: string) => hostRoute(env, hostOf(env, env.redis[redis]));
export const modulesRoute = (env: Environment) => hostRoute(env, hostOf(env, env.modules));
export const configFilesRoute = (env: Environment) => hostRoute(env, hostOf(env, env.configSync));

const routes = <T extends Record<string, HostRoute | undefined>>(r: T) =>
  Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)) as Partial<Record<keyof T, HostRoute>>;

/** The host fields of a workflow's input (lib and CLI alike); none for the implicit host, so single-host inputs stay as they were. */
export const onRedisHost = (env: Environment, redis: string) => routes({ host: redisRoute(env, redis) });
export const onModulesHost = (env: Environment) => routes({ host: modulesRoute(env) });
export const onConfigHosts = (env: Environment) => routes({ host: configFilesRoute(env), modulesHost: modulesRoute(env) });

/** What a worker waiting for its host says, in the workflow's details and `titan status`. */
export const waitingForHost = (r: HostRoute) => `waiting for a worker on host ${r.host} (queue ${r.taskQueue})`;

/** The first part naming an undeclared host, or missing its host among several: field and message. */
export function hostProblem(env: Environment): { field: string; message: string } | undefined {
  const declared = Object.keys(env.hosts ?? {});
  const parts: [string, { host?: string } | undefined][] = [
    ...Object.entries(env.redis).map(([n, r]): [string, { host?: string }] => [`redis.${n}`, r]),
    ['modules', env.modules],
    ['configSync', env.configSync],
  ];
  for (const [field, part] of parts) {
    if (!part) continue;
    if (part.host !== undefined && !declared.includes(part.host)) {
      return { field: `${field}.host`, message: declared.length ? `no host named "${part.host}" (hosts: ${declared.join(', ')})` : `names host "${part.host}" but the file has no hosts section` };
    }
    if (part.host === undefined && declared.length > 1) return { field: `${field}.host`, message: `required: the file declares several hosts (${declared.join(', ')})` };
  }
  return undefined;
}
