// Recovery plan §1 (Redis), backup side: snapshot the live Redis into the primary location,
// copy it off-site, then apply tiered retention to both. Runs on a Schedule (hourly, daily) or
// on demand from `titan backup`.
import { upsertSearchAttributes, uuid4, workflowInfo } from '@temporalio/workflow';
import type { RetentionReport } from '../activities/redis-backup';
import { newBackupId, type RetentionClass } from '../lib/manifest';
import { SearchKey } from '../lib/names';
import type { HostRoute } from '../lib/hosts';
import { routesOf, runOnHosts } from './host-wait';
import { longStep, onHost, quickStep } from './steps';

export interface RedisBackupInput {
  redis: string;
  retentionClass: RetentionClass;
  /** A replica of `redis` to take the snapshot from (backups.schedules.<id>.from). */
  from?: string;
  /** The host of the instance streamed: its worker surely reaches it (absent: any worker, the stream needs only the network). */
  host?: HostRoute;
}

export interface RedisBackupResult {
  backupId: string;
  bytes: number;
  sha256: string;
  crc64: string;
  keyCounts?: Record<string, { keys: number; expires: number }>;
  locations: string[];
  retention: RetentionReport[];
}

export async function redisBackup(input: RedisBackupInput): Promise<RedisBackupResult> {
  return runOnHosts(routesOf(input), (details) => backUp(input, details));
}

async function backUp(input: RedisBackupInput, details: (step: string) => void): Promise<RedisBackupResult> {
  // The id is fixed before any activity runs, so every retry writes to the same place.
  const backupId = newBackupId(input.redis, new Date(workflowInfo().startTime), uuid4().slice(0, 8));
  upsertSearchAttributes([{ key: SearchKey.backupId, value: backupId }]);

  details(`Checking the backup locations for **${backupId}**`);
  const locations = await quickStep('check that every backup location is reachable').checkBackupLocations();

  const via = input.from ? ` from its replica ${input.from}` : '';
  details(`Streaming a snapshot of Redis **${input.redis}**${via} into the primary location`);
  const manifest = await onHost(input.host).long(`snapshot Redis ${input.redis}${via} into the primary location`)
    .snapshotToPrimary({ redis: input.redis, backupId, retentionClass: input.retentionClass, ...(input.from && { from: input.from }) });

  if (locations.includes('offsite')) {
    details(`Copying **${backupId}** (${manifest.bytes} bytes) off-site and verifying the copy`);
    await longStep(`copy ${backupId} off-site and verify it`).copyBackupOffsite({ redis: input.redis, backupId });
  }

  details('Applying retention');
  const retention: RetentionReport[] = [];
  for (const location of locations) {
    retention.push(await quickStep(`apply retention in the ${location} location`).applyRetention({ redis: input.redis, location }));
  }

  details(`Done: **${backupId}**, ${manifest.bytes} bytes, in ${locations.join(' and ')}`);
  return {
    backupId,
    bytes: manifest.bytes,
    sha256: manifest.sha256,
    crc64: manifest.crc64,
    keyCounts: manifest.keyCounts,
    locations,
    retention,
  };
}
