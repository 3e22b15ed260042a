// Recovery plan §1 (Redis), restore side: identify the latest valid backup → stop Redis →
// replace the data directory → start Redis → verify. Every candidate is downloaded and fully
// checked before Redis is touched; a failed verification puts the previous data back.
import { ActivityFailure, ApplicationFailure, setCurrentDetails, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { CandidateList, VerificationReport } from '../activities/redis-restore';
import type { Rejection, StagedBackup } from '../lib/restore-plan';
import { ErrorType } from '../lib/errors';
import { SearchKey } from '../lib/names';
import { failureReason, longStep, quickStep } from './steps';

export interface RedisRestoreInput {
  /** The Redis instance whose backups are restored. */
  redis: string;
  /** A specific backup; default: the latest valid one. */
  backupId?: string;
  /** The latest valid backup taken before this time (ISO 8601). */
  before?: string;
  /** Restore into this instance instead of `redis` itself (drills, inspection). */
  target?: string;
}

export interface RedisRestoreResult {
  target: string;
  backup: StagedBackup;
  /** Copies tried and refused before this one, with the reason. */
  rejected: Rejection[];
  unreachable: CandidateList['unreachable'];
  steps: { step: string; ms: number }[];
  verification: VerificationReport;
  rollbackDir: string;
  notes: string[];
}

export async function redisRestore(input: RedisRestoreInput): Promise<RedisRestoreResult> {
  const target = input.target ?? input.redis;
  const restoreId = workflowInfo().runId;
  const steps: RedisRestoreResult['steps'] = [];
  const timed = async <T>(step: string, fn: () => Promise<T>): Promise<T> => {
    const t0 = Date.now();
    try {
      return await fn();
    } finally {
      steps.push({ step, ms: Date.now() - t0 });
    }
  };
  const cleanUp = (succeeded: boolean) => quickStep('remove staged downloads').cleanUpRestore({ target, restoreId, succeeded });

  setCurrentDetails(`Inspecting Redis **${target}**`);
  const info = await timed('inspect target', () => quickStep(`inspect Redis ${target}`).inspectRestoreTarget({ target }));

  setCurrentDetails(`Finding the latest valid backup of Redis **${input.redis}**`);
  const list = await timed('list backups', () => quickStep(`list backups of Redis ${input.redis}`)
    .listRestoreCandidates({ redis: input.redis, backupId: input.backupId, before: input.before }));
  const rejected = [...list.rejected];

  // Redis is untouched until one copy has been downloaded and proven valid.
  const staged = await timed('download and verify', async () => {
    for (const c of list.candidates) {
      for (const location of c.locations) {
        setCurrentDetails(`Downloading and verifying **${c.id}** from the ${location} location (Redis **${target}** untouched so far)`);
        try {
          return await longStep(`download and verify ${c.id} from ${location}`)
            .stageBackup({ redis: input.redis, backupId: c.id, location, target, maxRdbVersion: info.maxRdbVersion });
        } catch (err) {
          if (!(err instanceof ActivityFailure)) throw err;
          rejected.push({ id: c.id, location, problem: failureReason(err) });
        }
      }
    }
    return undefined;
  });
  if (!staged) {
    await cleanUp(false);
    const why = rejected.map((r) => `${r.id} (${r.location}): ${r.problem}`).join('; ') || 'no backups stored';
    throw ApplicationFailure.nonRetryable(`no valid backup of Redis ${input.redis} to restore; Redis ${target} was not touched. ${why}`, ErrorType.NoValidBackup);
  }
  upsertSearchAttributes([{ key: SearchKey.backupId, value: staged.backupId }]);

  setCurrentDetails(`Stopping Redis **${target}** (without saving) to restore **${staged.backupId}**`);
  await timed('stop Redis', () => longStep(`stop Redis ${target} without saving`).stopRedis({ target }));
  setCurrentDetails(`Replacing the data of Redis **${target}** with **${staged.backupId}**`);
  const { rollbackDir } = await timed('replace data', () => quickStep(`replace the data of Redis ${target}`)
    .replaceRedisData({ target, plan: info.plan, backupId: staged.backupId, restoreId }));

  let verification: VerificationReport | undefined;
  let failure: string | undefined;
  try {
    setCurrentDetails(`Starting Redis **${target}** and waiting for it to load **${staged.backupId}**`);
    await timed('start Redis', () => longStep(`start Redis ${target}`).startRedis({ target, pauseWrites: true }));
    setCurrentDetails(`Verifying Redis **${target}** against **${staged.backupId}**`);
    verification = await timed('verify', () => quickStep(`verify Redis ${target}: counts, sampled values, probe`)
      .verifyRestoredRedis({ target, backupId: staged.backupId, restoreId }));
    if (verification.problems.length > 0) failure = verification.problems.join('; ');
  } catch (err) {
    if (!(err instanceof ActivityFailure)) throw err;
    failure = failureReason(err);
  }

  if (failure !== undefined || !verification) {
    setCurrentDetails(`Verification failed; putting the previous data of Redis **${target}** back`);
    await timed('roll back', async () => {
      await longStep(`stop Redis ${target} for rollback`).stopRedis({ target });
      await quickStep(`put the previous data of Redis ${target} back`).rollBackRedisData({ target, plan: info.plan, restoreId });
      await longStep(`start Redis ${target} on its previous data`).startRedis({ target, pauseWrites: false });
    });
    await cleanUp(false);
    throw ApplicationFailure.nonRetryable(
      `restore of ${staged.backupId} into Redis ${target} failed verification: ${failure}. The previous data is back and Redis ${target} is running on it.`,
      ErrorType.RestoreVerificationFailed,
      { steps, rejected },
    );
  }

  await cleanUp(true);
  setCurrentDetails(`Restored **${staged.backupId}** into Redis **${target}** and verified it`);
  return { target, backup: staged, rejected, unreachable: list.unreachable, steps, verification, rollbackDir, notes: info.notes };
}
