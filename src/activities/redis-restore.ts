// Activities of the redisRestore workflow, one per step of the recovery plan: inspect the target,
// choose and stage a valid backup, stop Redis, replace its data, start it, verify, roll back.
// Each is idempotent: it checks what is already done before acting.
import { createHash, randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, realpathSync, rmSync } from 'node:fs';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { LocationName } from '../lib/config';
import { parseKeyspace } from '../lib/manifest';
import {
  type CandidateSelection, checkKeyCounts, type CountCheck, type ListedBackup, maxRdbVersion, orderCandidates, type Rejection, type RestoreCandidate, type StagedBackup,
} from '../lib/restore-plan';
import { ErrorType } from '../lib/errors';
import { type DataDirPlan, cleanUpAfterRestore, placeSnapshot, restorePrevious, stagingDir } from '../infra/data-dir';
import type { Deps } from '../deps';
import { heartbeatWhile } from './heartbeat';
import { type RedisFiles, type RunAs, redisControl, withRedis } from '../infra/redis-control';
import { type DownloadProgress, readStagedRecord, stageBackup, stagedFiles } from '../infra/restore-staging';

export interface RestoreTargetInfo {
  target: string;
  kind: RunAs['kind'];
  address: string;
  running: boolean;
  redisVersion?: string;
  maxRdbVersion?: number;
  plan: DataDirPlan;
  /** Things an operator should know, e.g. the environment file and Redis disagreeing. */
  notes: string[];
}

export interface CandidateList {
  candidates: RestoreCandidate[];
  rejected: Rejection[];
  unreachable: { location: LocationName; error: string }[];
}

export interface VerificationReport {
  counts?: CountCheck['dbs'];
  samplesChecked: number;
  /** Sampled keys absent because their TTL has passed since the snapshot. */
  samplesExpired: number;
  probe: boolean;
  problems: string[];
  notes: string[];
}

function notRunning(run: RunAs): string {
  switch (run.kind) {
    case 'process': return `the pid file ${run.pidFile} names no running redis-server`;
    case 'container': return `container ${run.container} is not running`;
    case 'commands': return `"${run.check}" says it is not running`;
  }
}

const DEFAULT_FILES: RedisFiles = { dbfilename: 'dump.rdb', appendonly: false, appenddirname: 'appendonlydir', appendfilename: 'appendonly.aof' };
const isAuthError = (err: unknown) => /NOAUTH|WRONGPASS|invalid password|invalid username/i.test(String((err as Error)?.message));

export function createRedisRestoreActivities(deps: Pick<Deps, 'redisTarget' | 'docker' | 'store' | 'allStores' | 'metrics'>) {
  const target = (name: string) => deps.redisTarget(name);
  const control = (name: string) => redisControl(target(name), deps.docker);
  const refuseAuth = (name: string, err: unknown): never => {
    throw ApplicationFailure.nonRetryable(`Redis ${name} refused the password: ${(err as Error).message}`, ErrorType.RedisAuthFailed);
  };

  return {
    /** What will be replaced and how, read before anything is touched. */
    async inspectRestoreTarget(req: { target: string }): Promise<RestoreTargetInfo> {
      const t = target(req.target);
      const ctl = control(req.target);
      const notes: string[] = [];
      const live = await withRedis(t.endpoint, async (r) => {
        const server = await r.info('server');
        const config = await r.call('CONFIG', 'GET', 'dir', 'dbfilename', 'appendonly', 'appenddirname', 'appendfilename').catch(() => []) as string[];
        const c: Record<string, string> = {};
        for (let i = 0; i + 1 < config.length; i += 2) c[config[i]!] = config[i + 1]!;
        return { version: /^redis_version:(.+)$/m.exec(server)?.[1]?.trim(), processId: Number(/^process_id:(\d+)/m.exec(server)?.[1]), config: c };
      }).catch((err) => (isAuthError(err) ? refuseAuth(req.target, err) : undefined));
      const running = await ctl.isRunning();
      if (live && !running) {
        throw ApplicationFailure.nonRetryable(`Redis answers at ${t.endpoint.address}, but ${notRunning(t.runAs)}: a restore could not stop it`, ErrorType.ConfigInvalid);
      }
      // Stopping the pid file's process must stop the Redis the URL reaches, not another one.
      const pid = ctl.processId?.();
      if (live && pid !== undefined && live.processId !== pid) {
        throw ApplicationFailure.nonRetryable(`Redis at ${t.endpoint.address} is process ${live.processId}, but the pid file names ${pid}: check redis.${req.target}.url and runAs`, ErrorType.ConfigInvalid);
      }
      const configured = ctl.configuredFiles();
      // A daemon writes the pid file its config names; waiting for another one would end in a rollback.
      if (t.runAs.kind === 'process' && configured.daemonize && configured.pidFile !== t.runAs.pidFile) {
        throw ApplicationFailure.nonRetryable(`redis.${req.target}.runAs.process.pidFile is ${t.runAs.pidFile}, but ${t.runAs.configFile} (daemonize yes) has Redis write ${configured.pidFile ?? 'no pidfile'}`, ErrorType.ConfigInvalid);
      }
      const liveDir = live?.config.dir;
      // A container's dir is inside the container; a service's is on this host, as Redis reports it.
      const dir = t.runAs.kind === 'process' ? liveDir ?? configured.dir : t.runAs.kind === 'commands' ? liveDir : undefined;
      if (dir !== undefined && existsSync(t.dataDir) && realpathSync(dir) !== realpathSync(t.dataDir)) {
        throw ApplicationFailure.nonRetryable(`redis.${req.target}.dataDir is ${t.dataDir}, but Redis keeps its files in ${dir}`, ErrorType.ConfigInvalid);
      }
      const c = live?.config ?? {};
      const appendonly = c.appendonly !== undefined ? c.appendonly === 'yes' : configured.appendonly ?? t.persistence === 'aof';
      if (appendonly !== (t.persistence === 'aof')) notes.push(`the environment file says persistence ${t.persistence}, Redis runs with appendonly ${appendonly ? 'yes' : 'no'}: following Redis`);
      const files: RedisFiles = {
        dbfilename: c.dbfilename ?? configured.dbfilename ?? DEFAULT_FILES.dbfilename,
        appendonly,
        appenddirname: c.appenddirname ?? configured.appenddirname ?? DEFAULT_FILES.appenddirname,
        appendfilename: c.appendfilename ?? configured.appendfilename ?? DEFAULT_FILES.appendfilename,
      };
      if (!existsSync(t.dataDir)) {
        mkdirSync(t.dataDir, { recursive: true, mode: 0o700 });
        if (t.runAs.kind === 'container') chownSync(t.dataDir, t.runAs.uid, t.runAs.gid);
        notes.push(`data directory ${t.dataDir} was missing and has been created`);
      }
      const redisVersion = live?.version ?? (await ctl.installedVersion().catch(() => undefined));
      if (!redisVersion) notes.push('Redis version unknown: the RDB version is checked when Redis loads the snapshot');
      return {
        target: req.target,
        kind: t.runAs.kind,
        address: t.endpoint.address,
        running,
        redisVersion,
        maxRdbVersion: redisVersion ? maxRdbVersion(redisVersion) : undefined,
        plan: { dataDir: t.dataDir, files, owner: ctl.owner() },
        notes,
      };
    },

    /** Backups of `redis` in every reachable location, newest first, and those already rejected. */
    async listRestoreCandidates(req: { redis: string } & CandidateSelection): Promise<CandidateList> {
      if (req.before !== undefined && Number.isNaN(Date.parse(req.before))) {
        throw ApplicationFailure.nonRetryable(`--before "${req.before}" is not a date and time (use ISO 8601, e.g. 2026-11-25T09:00:00Z)`, ErrorType.RestoreRequestInvalid);
      }
      const listed: ListedBackup[] = [];
      const unreachable: CandidateList['unreachable'] = [];
      await Promise.all(deps.allStores.map(async (store) => {
        try {
          for (const e of await store.list(req.redis)) {
            listed.push({ id: e.id, location: store.name, createdAt: e.manifest?.createdAt ?? e.lastModified?.toISOString() ?? new Date(0).toISOString(), problem: e.problem });
          }
        } catch (err) {
          unreachable.push({ location: store.name, error: (err as Error).message });
        }
      }));
      if (unreachable.length === deps.allStores.length) throw new Error(`no backup location is reachable: ${unreachable.map((u) => `${u.location}: ${u.error}`).join('; ')}`);
      const { candidates, rejected } = orderCandidates(listed, req);
      if (req.backupId && !listed.some((b) => b.id === req.backupId)) {
        throw ApplicationFailure.nonRetryable(`backup ${req.backupId} not found in ${deps.allStores.filter((s) => !unreachable.some((u) => u.location === s.name)).map((s) => s.name).join(' or ')}`, ErrorType.BackupNotFound);
      }
      return { candidates, rejected, unreachable };
    },

    /** Downloads and fully checks one copy into the target's staging folder; resumes after a crash. */
    async stageBackup(req: { redis: string; backupId: string; location: LocationName; target: string; maxRdbVersion?: number }): Promise<StagedBackup> {
      const ctx = Context.current();
      return stageBackup(deps.store(req.location), req.redis, req.backupId, {
        dataDir: target(req.target).dataDir,
        maxRdbVersion: req.maxRdbVersion,
        resume: ctx.info.heartbeatDetails as DownloadProgress | undefined,
        onProgress: (p) => ctx.heartbeat(p),
        signal: ctx.cancellationSignal,
      });
    },

    async stopRedis(req: { target: string }): Promise<{ wasRunning: boolean }> {
      const ctl = control(req.target);
      const wasRunning = await ctl.isRunning();
      await heartbeatWhile(`stop Redis ${req.target}`, () => ctl.stop());
      return { wasRunning };
    },

    async replaceRedisData(req: { target: string; plan: DataDirPlan; backupId: string; restoreId: string }): Promise<{ rollbackDir: string }> {
      if (await control(req.target).isRunning()) throw new Error('Redis is running again; it must stay stopped while its files are replaced');
      return placeSnapshot(req.plan, stagedFiles(req.plan.dataDir, req.backupId).rdb, req.restoreId);
    },

    /**
     * Starts Redis and waits until it has loaded its data. With `pauseWrites`, clients' writes
     * (and key expiry) are paused until verification ends, so the counts it compares hold still.
     */
    async startRedis(req: { target: string; pauseWrites: boolean }): Promise<{ loadMs: number }> {
      const t = target(req.target);
      const ctl = control(req.target);
      const started = Date.now();
      let answered = false;
      await ctl.start();
      // Asked often (every 25 ms at first, then 100 ms): each poll's wait is time the RTO loses.
      for (let wait = 25; ; wait = Math.min(100, wait * 2)) {
        if (!(await ctl.isRunning())) {
          throw ApplicationFailure.nonRetryable(`Redis ${req.target} exited while loading its data (see its log)`, ErrorType.RedisStartFailed);
        }
        // Loading can take long, but it answers (LOADING) within seconds; silence means a crash loop.
        if (!answered && Date.now() - started > 120_000) {
          throw ApplicationFailure.nonRetryable(`Redis ${req.target} did not answer within 2 minutes of starting (see its log)`, ErrorType.RedisStartFailed);
        }
        const loading = await withRedis(t.endpoint, async (r) => {
          if (req.pauseWrites) await r.call('CLIENT', 'PAUSE', String(10 * 60_000), 'WRITE').catch(() => undefined);
          const info = await r.info('persistence');
          return /^loading:1/m.test(info) ? Number(/^loading_loaded_perc:([\d.]+)/m.exec(info)?.[1] ?? 0) : undefined;
        }).catch((err) => (isAuthError(err) ? refuseAuth(req.target, err) : -1));
        if (loading === undefined) return { loadMs: Date.now() - started };
        answered ||= loading >= 0;
        Context.current().heartbeat({ phase: loading < 0 ? 'starting Redis' : `loading ${loading}%` });
        await new Promise((r) => setTimeout(r, wait));
      }
    },

    /** Compares the running Redis with the staged snapshot: counts, sampled values, a write probe. */
    async verifyRestoredRedis(req: { target: string; backupId: string; restoreId: string }): Promise<VerificationReport> {
      const t = target(req.target);
      const record = readStagedRecord(t.dataDir, req.backupId);
      return withRedis(t.endpoint, async (r) => {
        const report: VerificationReport = { samplesChecked: 0, samplesExpired: 0, probe: false, problems: [], notes: [] };
        try {
          if (record.keyCounts) {
            const check = checkKeyCounts(record.keyCounts, parseKeyspace(await r.info('keyspace')), record.expiries, Date.now());
            report.counts = check.dbs;
            report.problems.push(...check.problems);
          } else {
            report.notes.push('key counts not compared: the snapshot holds a module type the RDB reader cannot count');
          }
          for (const s of record.samples) {
            await r.select(s.db);
            const key = Buffer.from(s.key, 'base64');
            const name = `db${s.db} key ${JSON.stringify(key.toString('utf8'))}`;
            const type = await r.type(key);
            report.samplesChecked++;
            if (type === 'none') {
              if (s.expireAtMs !== undefined && s.expireAtMs <= Date.now()) report.samplesExpired++;
              else report.problems.push(`${name} is missing`);
              continue;
            }
            if (s.type !== 'module' && type !== s.type) report.problems.push(`${name} is a ${type}, the snapshot has a ${s.type}`);
            if (s.sha256 && createHash('sha256').update((await r.getBuffer(key)) ?? '').digest('hex') !== s.sha256) report.problems.push(`${name} has a different value than in the snapshot`);
            const expireAt = Number(await r.call('PEXPIRETIME', key));
            if (expireAt !== (s.expireAtMs ?? -1)) report.problems.push(`${name} expires at ${expireAt}, the snapshot says ${s.expireAtMs ?? 'never'}`);
          }
        } finally {
          await r.call('CLIENT', 'UNPAUSE').catch(() => undefined);
        }
        await r.select(0);
        const probeKey = `titan:restore-probe:${req.restoreId}`;
        const value = randomBytes(16).toString('hex');
        await r.set(probeKey, value, 'PX', 60_000);
        report.probe = (await r.get(probeKey)) === value && (await r.del(probeKey)) === 1;
        if (!report.probe) report.problems.push('write/read probe failed');
        return report;
      });
    },

    async rollBackRedisData(req: { target: string; plan: DataDirPlan; restoreId: string }): Promise<void> {
      if (await control(req.target).isRunning()) throw new Error('Redis is running; it must be stopped before its previous files are put back');
      restorePrevious(req.plan, req.restoreId);
    },

    /** Removes staged downloads; after success also rollback folders of older restores. */
    async cleanUpRestore(req: { target: string; restoreId: string; succeeded: boolean }): Promise<void> {
      const { dataDir } = target(req.target);
      if (req.succeeded) cleanUpAfterRestore(dataDir, req.restoreId);
      else rmSync(stagingDir(dataDir), { recursive: true, force: true });
      deps.metrics.restoreFinished(req.target, req.succeeded); // every restore ends here, verified or not
    },
  };
}
