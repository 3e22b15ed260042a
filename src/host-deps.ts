// What the worker started on a host (`--host <name>`, TITAN_HOST) builds its host-bound activities
// from: the environment as seen from that host (its own Docker engine), and Redis instances of
// that host only, so a host-bound activity that reached the wrong worker refuses instead of acting.
import { ApplicationFailure } from '@temporalio/common';
import { buildDeps, type Deps } from './deps';
import { ErrorType } from './lib/errors';
import { hostOf } from './lib/hosts';
import type { LoadedEnvironment } from './load-environment';

/** The environment file as the worker on `host` uses it; an unknown host refuses the start in one line. */
export function hostLoaded(loaded: LoadedEnvironment, host: string): LoadedEnvironment {
  const { env, source } = loaded;
  if (!env.hosts) throw new Error(`host "${host}": ${source} has no hosts section; start the worker without --host (TITAN_HOST)`);
  const declared = env.hosts[host];
  if (!declared) throw new Error(`host "${host}" is not declared in ${source} (hosts: ${Object.keys(env.hosts).join(', ')})`);
  return { ...loaded, env: { ...env, docker: declared.docker ?? env.docker } };
}

export function buildHostDeps(loaded: LoadedEnvironment, host: string): Deps {
  const deps = buildDeps(loaded);
  const { env } = loaded;
  const redisTarget = deps.redisTarget;
  deps.redisTarget = (name) => {
    const on = hostOf(env, env.redis[name]);
    if (env.redis[name] && on !== host) throw ApplicationFailure.nonRetryable(`Redis ${name} lives on host ${on}, not on host ${host}: this worker leaves it alone`, ErrorType.WrongHost);
    return redisTarget(name);
  };
  return deps;
}
