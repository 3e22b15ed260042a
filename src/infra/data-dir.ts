// Replacing a stopped Redis's data files with a staged snapshot, and putting the old ones back.
// Every step is a rename on one filesystem (atomic), and marker files record which steps are done,
// so an activity retried after a crash continues instead of moving the wrong files.
import { chownSync, chmodSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { RedisFiles } from './redis-control';

export interface DataDirPlan {
  dataDir: string;
  files: RedisFiles;
  owner: { uid: number; gid: number };
}

export const stagingDir = (dataDir: string) => path.join(dataDir, '.titan-restore');
const rollbackRoot = (dataDir: string) => path.join(dataDir, '.titan-rollback');
export const rollbackDir = (dataDir: string, restoreId: string) => path.join(rollbackRoot(dataDir), restoreId);

/** Everything Redis may load at start, whichever persistence mode it runs in. */
const loadedNames = (f: RedisFiles) => [f.dbfilename, f.appenddirname];

function moveEach(names: string[], from: string, to: string): void {
  for (const n of names) if (existsSync(path.join(from, n)) && !existsSync(path.join(to, n))) renameSync(path.join(from, n), path.join(to, n));
}

function own(p: string, plan: DataDirPlan, mode: number): void {
  chownSync(p, plan.owner.uid, plan.owner.gid);
  chmodSync(p, mode);
}

/**
 * Moves the current data files aside into the rollback folder, then renames the staged snapshot
 * into place: as dump.rdb, or, with appendonly, as the base of a fresh AOF directory (Redis 7
 * ignores dump.rdb when AOF is on and would start empty).
 */
export function placeSnapshot(plan: DataDirPlan, stagedRdb: string, restoreId: string): { rollbackDir: string } {
  const { dataDir, files } = plan;
  const rb = rollbackDir(dataDir, restoreId);
  const marker = (m: string) => path.join(rb, m);
  if (existsSync(marker('.placed'))) return { rollbackDir: rb };
  mkdirSync(rb, { recursive: true, mode: 0o700 });
  if (!existsSync(marker('.moved-aside'))) {
    moveEach(loadedNames(files), dataDir, rb);
    writeFileSync(marker('.moved-aside'), '');
  }
  if (files.appendonly) {
    const target = path.join(dataDir, files.appenddirname);
    if (!existsSync(target)) {
      const tmp = path.join(stagingDir(dataDir), `${restoreId}.aof`);
      const base = `${files.appendfilename}.1.base.rdb`;
      const incr = `${files.appendfilename}.1.incr.aof`;
      mkdirSync(tmp, { recursive: true });
      if (!existsSync(path.join(tmp, base))) renameSync(stagedRdb, path.join(tmp, base));
      writeFileSync(path.join(tmp, incr), '');
      writeFileSync(path.join(tmp, `${files.appendfilename}.manifest`), `file ${base} seq 1 type b\nfile ${incr} seq 1 type i\n`);
      for (const f of readdirSync(tmp)) own(path.join(tmp, f), plan, 0o600);
      own(tmp, plan, 0o700);
      renameSync(tmp, target);
    }
  } else {
    const target = path.join(dataDir, files.dbfilename);
    if (!existsSync(target)) {
      own(stagedRdb, plan, 0o600);
      renameSync(stagedRdb, target);
    }
  }
  writeFileSync(marker('.placed'), '');
  return { rollbackDir: rb };
}

/** Puts the files moved aside by placeSnapshot back; the rejected ones are kept in `failed/`. */
export function restorePrevious(plan: DataDirPlan, restoreId: string): void {
  const { dataDir, files } = plan;
  const rb = rollbackDir(dataDir, restoreId);
  const marker = (m: string) => path.join(rb, m);
  if (!existsSync(marker('.moved-aside')) || existsSync(marker('.rolled-back'))) return;
  const failed = path.join(rb, 'failed');
  if (!existsSync(marker('.failed-aside'))) {
    mkdirSync(failed, { recursive: true });
    moveEach(loadedNames(files), dataDir, failed);
    writeFileSync(marker('.failed-aside'), '');
  }
  moveEach(loadedNames(files), rb, dataDir);
  writeFileSync(marker('.rolled-back'), '');
}

/** After a verified restore: drop staged files and older rollback folders, keep this one. */
export function cleanUpAfterRestore(dataDir: string, restoreId: string): void {
  rmSync(stagingDir(dataDir), { recursive: true, force: true });
  const root = rollbackRoot(dataDir);
  if (!existsSync(root)) return;
  for (const d of readdirSync(root)) if (d !== restoreId) rmSync(path.join(root, d), { recursive: true, force: true });
}
