// The full-disaster recovery plan (seed plan §1–4 in order, each stage signed off by a person):
// the `recovery:` section's meaning (its schema is in config.ts), and the plan the fullDisasterRecovery workflow
// receives — which stages run, as which child workflow, who may sign each off, and when a silent
// sign-off is reminded and escalated. Pure, so workflows may import it.
import { type Environment, STAGES, type StageName } from './config';
import { onConfigHosts, onModulesHost, onRedisHost } from './hosts';
import { ConfigError, durationMs } from './validation';

export interface PlannedStage {
  name: StageName;
  childWorkflowType: string;
  args: unknown[];
  /** Who may sign this stage off. */
  approvers: string[];
  /** What the stage does, in the plan's words. */
  summary: string;
  /** A stage of several parts (the redis stage of several instances): one child each, in parallel; `args` unused. */
  parts?: { name: string; args: unknown[] }[];
}

export interface RecoveryPlan {
  environment: string;
  stages: PlannedStage[];
  remindAfterMs: number;
  escalateAfterMs: number;
  /** Whether reminders and escalations go anywhere. */
  webhook: boolean;
}

/** The instances the redis stage restores: the listed ones, else the only one or `main`; with hosts, every one that is not a replica source. */
export function recoveryRedisInstances(env: Environment): string[] {
  const listed = env.recovery?.redis;
  if (listed !== undefined) return typeof listed === 'string' ? [listed] : listed;
  const names = Object.keys(env.redis);
  if (env.hosts) {
    const replicas = new Set(Object.values(env.backups.schedules).flatMap((s) => (s.from ? [s.from] : [])));
    return names.filter((n) => !replicas.has(n));
  }
  const one = names.length === 1 ? names[0] : names.includes('main') ? 'main' : undefined;
  return one ? [one] : [];
}

/** The first instance the redis stage restores (a drill restores one into its sandbox). */
export const recoveryRedis = (env: Environment): string | undefined => recoveryRedisInstances(env)[0];

/** Whether the environment file describes the system a stage recovers. */
function configured(env: Environment, stage: StageName): boolean {
  switch (stage) {
    case 'redis': { const r = recoveryRedisInstances(env); return r.length > 0 && r.every((n) => n in env.redis); }
    case 'modules': return env.modules !== undefined;
    case 'config': return env.configSync !== undefined;
    case 'logs': return env.logging !== undefined;
  }
}

/** The first cross-field problem of the recovery section (stages of systems not described, unknown Redis, a stage nobody may sign off). */
export function recoveryProblem(env: Environment): { field: string; message: string } | undefined {
  const r = env.recovery;
  if (!r) return undefined;
  const unknown = recoveryRedisInstances(env).find((n) => !env.redis[n]);
  if (unknown) return { field: 'recovery.redis', message: `no Redis instance named "${unknown}"` };
  const missing = r.stages?.find((s) => !configured(env, s));
  if (missing) {
    const why = missing === 'redis' ? 'several Redis instances and none named main: set recovery.redis' : `the file has no ${{ modules: 'modules', config: 'configSync', logs: 'logging' }[missing]} section`;
    return { field: 'recovery.stages', message: `stage ${missing} cannot run: ${why}` };
  }
  const unsigned = plannedStages(env).find((s) => !(r.approvers[s] ?? r.approvers.default));
  if (unsigned) return { field: `recovery.approvers.${unsigned}`, message: `nobody may sign off stage ${unsigned}: name approvers for it or a default` };
  return undefined;
}

/** The stages a recovery of this file runs, in plan order. */
export function plannedStages(env: Environment): StageName[] {
  return env.recovery?.stages ?? STAGES.filter((s) => configured(env, s));
}

/** The plan of a recovery from the environment file; `incidentAt` bounds the backup the redis stage restores. */
export function resolveRecoveryPlan(env: Environment, opts: { incidentAt?: string } = {}): RecoveryPlan {
  const r = env.recovery;
  if (!r) throw new ConfigError('the environment file has no recovery section: it names who signs off each stage');
  if (opts.incidentAt !== undefined && Number.isNaN(Date.parse(opts.incidentAt))) {
    throw new ConfigError(`incident time "${opts.incidentAt}" is not a date and time (use ISO 8601, e.g. 2026-11-25T09:00:00Z)`);
  }
  const instances = recoveryRedisInstances(env);
  // A snapshot taken after the incident may already hold its damage.
  const restoreArgs = (redis: string) => [{ redis, before: opts.incidentAt, ...onRedisHost(env, redis) }];
  const stage = (n: StageName): Omit<PlannedStage, 'name' | 'approvers'> => ({
    redis: {
      childWorkflowType: 'redisRestore',
      args: restoreArgs(instances[0]!),
      summary: `Restore Redis ${instances.join(', ')} from the latest valid backup${opts.incidentAt ? ` taken before ${opts.incidentAt}` : ''}`,
      // One instance keeps the single child of before; several get one child each.
      ...(instances.length > 1 ? { parts: instances.map((i) => ({ name: i, args: restoreArgs(i) })) } : {}),
    },
    modules: { childWorkflowType: 'restoreModules', args: [onModulesHost(env)], summary: 'Redeploy the failed modules from the private registry' },
    config: { childWorkflowType: 'resyncConfig', args: [onConfigHosts(env)], summary: 'Re-sync the latest valid configuration from Git' },
    logs: { childWorkflowType: 'resumeLogs', args: [onModulesHost(env)], summary: 'Resume log shipping and check that nothing was lost' },
  })[n];
  const stages = plannedStages(env);
  if (stages.length === 0) throw new ConfigError('recovery.stages: the file describes no system to recover');
  return {
    environment: env.environment,
    stages: stages.map((n) => ({ name: n, ...stage(n), approvers: (r.approvers[n] ?? r.approvers.default)! })),
    remindAfterMs: durationMs(r.signOff.remindAfter),
    escalateAfterMs: durationMs(r.signOff.escalateAfter),
    webhook: r.webhook !== undefined,
  };
}
