// Recovery plan §1 (Redis), restore side: identify the latest valid backup → stop Redis →
// replace the data directory → start Redis → verify. Every candidate is downloaded and fully
// checked before Redis is touched; a failed verification puts the previous data back. A snapshot
// Redis refuses to load (although Titan's verifier passed it) is rejected like any invalid copy:
// the previous data goes back, and the next older valid backup is tried.
import { ActivityFailure, ApplicationFailure, patched, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { CandidateList, VerificationReport } from '../activities/redis-restore';
import type { Rejection, StagedBackup } from '../lib/restore-plan';
import { ErrorType } from '../lib/errors';
import { SearchKey } from '../lib/names';
import type { HostRoute } from '../lib/hosts';
import { routesOf, runOnHosts } from './host-wait';
import { failureReason, onHost, quickStep } from './steps';

export interface RedisRestoreInput {
  /** The Redis instance whose backups are restored. */
  redis: string;
  /** A specific backup; default: the latest valid one. */
  backupId?: string;
  /** The latest valid backup taken before this time (ISO 8601). */
  before?: string;
  /** Restore into this instance instead of `redis` itself (drills, inspection). */
  target?: string;
  /** The host of the target, whose worker stages, swaps and verifies (absent: the implicit host). */
  host?: HostRoute;
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
  return runOnHosts(routesOf(input), (details) => restore(input, details));
}

async function restore(input: RedisRestoreInput, details: (text: string) => void): Promise<RedisRestoreResult> {
  const target = input.target ?? input.redis;
  const { quick, long } = onHost(input.host);
  const restoreId = workflowInfo().runId;
  const steps: RedisRestoreResult['steps'] = [];
  // Listed in the order the steps start (two may run at once).
  const timed = async <T>(step: string, fn: () => Promise<T>): Promise<T> => {
    const t0 = Date.now();
    const entry = { step, ms: 0 };
    steps.push(entry);
    try {
      return await fn();
    } finally {
      entry.ms = Date.now() - t0;
    }
  };
  // Names the rollback folder to keep (after a fallback, the last attempt's holds the previous data).
  const cleanUp = (succeeded: boolean, attemptId = restoreId) => quick('remove staged downloads').cleanUpRestore({ target, restoreId: attemptId, succeeded });

  const inspect = () => timed('inspect target', () => quick(`inspect Redis ${target}`).inspectRestoreTarget({ target }));
  const listBackups = () => timed('list backups', () => quickStep(`list backups of Redis ${input.redis}`)
    .listRestoreCandidates({ redis: input.redis, backupId: input.backupId, before: input.before }));
  details(`Inspecting Redis **${target}** and finding the latest valid backup of Redis **${input.redis}**`);
  // Both only read, so the listing runs beside the inspection (each round trip is time the RTO
  // loses); a target the inspection refuses is still the error reported.
  const inspecting = inspect();
  const listing = patched('restore-inspects-and-lists-together') ? listBackups() : undefined;
  listing?.catch(() => undefined);
  const info = await inspecting;
  const list = await (listing ?? listBackups());
  const rejected = [...list.rejected];

  // Every stored copy, newest backup first; a backup Redis refused is not tried in another location.
  const copies = list.candidates.flatMap((c) => c.locations.map((location) => ({ id: c.id, location })));
  const refusedByRedis = new Set<string>();
  let nextCopy = 0;
  // Redis is untouched until one copy has been downloaded and proven valid.
  const stageNext = () => timed('download and verify', async () => {
    while (nextCopy < copies.length) {
      const { id, location } = copies[nextCopy++]!;
      if (refusedByRedis.has(id)) continue;
      details(`Downloading and verifying **${id}** from the ${location} location (Redis **${target}** untouched so far)`);
      try {
        return await long(`download and verify ${id} from ${location}`)
          .stageBackup({ redis: input.redis, backupId: id, location, target, maxRdbVersion: info.maxRdbVersion });
      } catch (err) {
        if (!(err instanceof ActivityFailure)) throw err;
        rejected.push({ id, location, problem: failureReason(err) });
      }
    }
    return undefined;
  });
  let staged = await stageNext();
  // The first attempt keeps the run id as its name (rollback folder, markers), as before.
  let attemptId = restoreId;
  for (let attempt = 1; ; attempt++) {
    if (!staged) {
      await cleanUp(false);
      const why = rejected.map((r) => `${r.id} (${r.location}): ${r.problem}`).join('; ') || 'no backups stored';
      const state = attempt === 1 ? 'was not touched' : 'is running on its previous data';
      throw ApplicationFailure.nonRetryable(`no valid backup of Redis ${input.redis} to restore; Redis ${target} ${state}. ${why}`, ErrorType.NoValidBackup);
    }
    const backup: StagedBackup = staged;
    upsertSearchAttributes([{ key: SearchKey.backupId, value: backup.backupId }]);

    details(`Stopping Redis **${target}** (without saving) to restore **${backup.backupId}**`);
    await timed('stop Redis', () => long(`stop Redis ${target} without saving`).stopRedis({ target }));
    details(`Replacing the data of Redis **${target}** with **${backup.backupId}**`);
    const { rollbackDir } = await timed('replace data', () => quick(`replace the data of Redis ${target}`)
      .replaceRedisData({ target, plan: info.plan, backupId: backup.backupId, restoreId: attemptId }));

    let verification: VerificationReport | undefined;
    let failure: string | undefined;
    let loadRefused = false;
    try {
      details(`Starting Redis **${target}** and waiting for it to load **${backup.backupId}**`);
      await timed('start Redis', () => long(`start Redis ${target}`).startRedis({ target, pauseWrites: true }));
      details(`Verifying Redis **${target}** against **${backup.backupId}**`);
      verification = await timed('verify', () => quick(`verify Redis ${target}: counts, sampled values, probe`)
        .verifyRestoredRedis({ target, backupId: backup.backupId, restoreId }));
      if (verification.problems.length > 0) failure = verification.problems.join('; ');
    } catch (err) {
      if (!(err instanceof ActivityFailure)) throw err;
      failure = failureReason(err);
      loadRefused = err.cause instanceof ApplicationFailure && err.cause.type === ErrorType.RedisStartFailed && verification === undefined;
    }

    if (failure !== undefined || !verification) {
      details(`${loadRefused ? `Redis refused to load **${backup.backupId}**` : 'Verification failed'}; putting the previous data of Redis **${target}** back`);
      await timed('roll back', async () => {
        await long(`stop Redis ${target} for rollback`).stopRedis({ target });
        await quick(`put the previous data of Redis ${target} back`).rollBackRedisData({ target, plan: info.plan, restoreId: attemptId });
        await long(`start Redis ${target} on its previous data`).startRedis({ target, pauseWrites: false });
      });
      // Redis running again on its previous data shows the snapshot was the problem, not Redis:
      // reject it like any invalid copy and go on to the next older valid backup.
      if (loadRefused && patched('restore-falls-back-when-redis-refuses-the-snapshot')) {
        rejected.push({ id: backup.backupId, location: backup.location, problem: `Redis ${target} refused to load it: ${failure}` });
        refusedByRedis.add(backup.backupId);
        details(`Redis **${target}** refused to load **${backup.backupId}**; trying the next older valid backup`);
        staged = await stageNext();
        attemptId = `${restoreId}.${attempt + 1}`;
        continue;
      }
      await cleanUp(false, attemptId);
      throw ApplicationFailure.nonRetryable(
        `restore of ${backup.backupId} into Redis ${target} failed verification: ${failure}. The previous data is back and Redis ${target} is running on it.`,
        ErrorType.RestoreVerificationFailed,
        { steps, rejected },
      );
    }

    await cleanUp(true, attemptId);
    details(`Restored **${backup.backupId}** into Redis **${target}** and verified it`);
    return { target, backup, rejected, unreachable: list.unreachable, steps, verification, rollbackDir, notes: info.notes };
  }
}
