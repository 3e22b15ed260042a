// The full-disaster recovery plan (seed plan §1–4 in order, each stage signed off by a person):
// the `recovery:` section's meaning (its schema is in config.ts), and the plan the fullDisasterRecovery workflow
// receives — which stages run, as which child workflow, who may sign each off, and when a silent
// sign-off is reminded and escalated. Pure, so workflows may import it.
import { type Environment, STAGES, type StageName } from './config';
import { ConfigError, durationMs } from './validation';

export interface PlannedStage {
  name: StageName;
  childWorkflowType: string;
  args: unknown[];
  /** Who may sign this stage off. */
  approvers: string[];
  /** What the stage does, in the plan's words. */
  summary: string;
}

export interface RecoveryPlan {
  environment: string;
  stages: PlannedStage[];
  remindAfterMs: number;
  escalateAfterMs: number;
  /** Whether reminders and escalations go anywhere. */
  webhook: boolean;
}

/** The instance the redis stage restores: the named one, else the only one, else `main`. */
export function recoveryRedis(env: Environment): string | undefined {
  const names = Object.keys(env.redis);
  return env.recovery?.redis ?? (names.length === 1 ? names[0] : names.includes('main') ? 'main' : undefined);
}

/** Whether the environment file describes the system a stage recovers. */
function configured(env: Environment, stage: StageName): boolean {
  switch (stage) {
    case 'redis': { const r = recoveryRedis(env); return r !== undefined && r in env.redis; }
    case 'modules': return env.modules !== undefined;
    case 'config': return env.configSync !== undefined;
    case 'logs': return env.logging !== undefined;
  }
}

/** The first cross-field problem of the recovery section (stages of systems not described, unknown Redis, a stage nobody may sign off). */
export function recoveryProblem(env: Environment): { field: string; message: string } | undefined {
  const r = env.recovery;
  if (!r) return undefined;
  if (r.redis && !env.redis[r.redis]) return { field: 'recovery.redis', message: `no Redis instance named "${r.redis}"` };
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
  const redis = recoveryRedis(env)!;
  // A snapshot taken after the incident may already hold its damage.
  const stage = (n: StageName): Omit<PlannedStage, 'name' | 'approvers'> => ({
    redis: { childWorkflowType: 'redisRestore', args: [{ redis, before: opts.incidentAt }], summary: `Restore Redis ${redis} from the latest valid backup${opts.incidentAt ? ` taken before ${opts.incidentAt}` : ''}` },
    modules: { childWorkflowType: 'restoreModules', args: [{}], summary: 'Redeploy the failed modules from the private registry' },
    config: { childWorkflowType: 'resyncConfig', args: [{}], summary: 'Re-sync the latest valid configuration from Git' },
    logs: { childWorkflowType: 'resumeLogs', args: [{}], summary: 'Resume log shipping and check that nothing was lost' },
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
