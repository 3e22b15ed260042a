// Activities of the resyncConfig workflow: choose the commit, apply its keys (one MULTI), render
// its files (deleting those Titan applied that the commit dropped), restart the modules whose files
// changed or went, run its scripts, check for drift, and record the files applied.
// Each compares before it acts, so a retry or a second re-sync of the same commit changes nothing.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ApplicationFailure } from '@temporalio/common';
import type { Deps } from '../deps';
import {
  appliedConfig, APPLIED_KEY, appliedFiles, checkConfig, chooseConfig, configAt, fileSources, liveFile, liveKeys, recordAppliedFiles, withConfigRedis,
} from '../infra/config-state';
import { durationMs } from '../lib/validation';
import { type ChosenConfig, declaredFiles, keyPlan, staleFiles } from '../lib/config-source';
import { ErrorType } from '../lib/errors';
import { heartbeatWhile } from './heartbeat';

export type { ChosenConfig };

export function createConfigActivities(deps: Pick<Deps, 'configSync' | 'modules' | 'docker'>) {
  const ctx = () => deps.configSync();
  const fail = (type: string) => (message: string) => ApplicationFailure.nonRetryable(message, type);

  return {
    /** The latest valid commit (or `to`, which must be valid and among the candidates), with the reasons others were skipped. */
    async chooseConfig(req: { to?: string }): Promise<ChosenConfig> {
      return chooseConfig(ctx(), req.to);
    },

    /** The commit's keys written and stale ones deleted in one MULTI, with the applied commit recorded. */
    async applyConfigKeys(req: { commit: string }): Promise<{ set: string[]; deleted: string[] }> {
      const c = ctx();
      const config = await configAt(c, req.commit);
      return withConfigRedis(c, async (r) => {
        const plan = keyPlan(await liveKeys(r, c.keyPrefix), config.redis.keys);
        const applied = await appliedConfig(r);
        const tx = r.multi();
        if (plan.del.length) tx.del(...plan.del.map((k) => c.keyPrefix + k));
        for (const [k, v] of Object.entries(plan.set)) tx.set(c.keyPrefix + k, v);
        if (applied.commit !== req.commit) {
          tx.hset(APPLIED_KEY, { commit: req.commit, at: new Date().toISOString(), previous: applied.commit ?? '' });
        }
        await tx.exec();
        return { set: Object.keys(plan.set), deleted: plan.del };
      });
    },

    /**
     * Deletes the files Titan applied that the commit no longer declares, then writes each file
     * whose content differs (temp file + rename). Returns the modules to restart: those whose files
     * changed now, those still running since before their file last changed (a run interrupted
     * between writing and restarting), and those of every dropped file until recordConfigFiles
     * records the commit's files (so an interrupted run still restarts them).
     */
    async renderConfigFiles(req: { commit: string }): Promise<{ written: string[]; removed: string[]; restart: string[] }> {
      return heartbeatWhile('render files', () => renderFiles(req.commit));
    },

    async restartConfiguredModules(req: { services: string[] }): Promise<string[]> {
      const m = deps.modules();
      return heartbeatWhile(`restart ${req.services.join(', ')}`, async () => {
        const restarted: string[] = [];
        for (const s of req.services) {
          for (const c of await m.engine.containersOf(s)) {
            await deps.docker().getContainer(c.Id).restart({ t: m.stopTimeoutS });
            restarted.push(s);
          }
        }
        return restarted;
      });
    },

    /** Runs the commit's scripts from an export of its tree, each with its timeout; output captured. */
    async runConfigScripts(req: { commit: string }): Promise<{ run: string; output: string }[]> {
      return heartbeatWhile('config scripts', () => runScripts(req.commit));
    },

    /** Keys and files that differ from the commit, and what Redis records as applied. */
    async checkConfig(req: { commit: string }) {
      return checkConfig(ctx(), req.commit);
    },

    /** Once the commit is applied and verified: its files are the ones Titan applied (what a later commit may delete). */
    async recordConfigFiles(req: { commit: string }): Promise<void> {
      const c = ctx();
      const files = declaredFiles(await configAt(c, req.commit));
      await withConfigRedis(c, (r) => recordAppliedFiles(r, files));
    },
  };

  async function renderFiles(commit: string): Promise<{ written: string[]; removed: string[]; restart: string[] }> {
    const c = ctx();
    const config = await configAt(c, commit);
    const content = await fileSources(c, commit, config);
    // Recorded before anything is written, so a run that fails halfway still knows every file it may have written.
    const stale = await withConfigRedis(c, async (r) => {
      const applied = await appliedFiles(c, await appliedConfig(r));
      const owned = { ...applied, ...declaredFiles(config) };
      if (JSON.stringify(owned) !== JSON.stringify(applied)) await recordAppliedFiles(r, owned);
      return staleFiles(owned, config);
    });
    const removed: string[] = [];
    for (const t of Object.keys(stale)) {
      const target = path.join(c.filesRoot, t);
      if (!existsSync(target)) continue;
      rmSync(target);
      removed.push(t);
    }
    const written: string[] = [];
    for (const f of config.files) {
      if (liveFile(c, f.target) === content[f.target]) continue;
      const target = path.join(c.filesRoot, f.target);
      mkdirSync(path.dirname(target), { recursive: true });
      writeFileSync(`${target}.titan-tmp`, content[f.target]!);
      renameSync(`${target}.titan-tmp`, target);
      written.push(f.target);
    }
    const services = [...new Set(config.files.flatMap((f) => f.modules))].sort();
    const restart = [...new Set(Object.values(stale).flat())];
    if (!services.length) return { written, removed, restart: restart.sort() };
    const { engine } = deps.modules();
    for (const s of services) {
      const changed = config.files.filter((f) => f.modules.includes(s));
      const [container] = await engine.containersOf(s);
      const startedAt = container ? Date.parse(container.State.StartedAt) : Infinity;
      if (restart.includes(s)) continue;
      if (changed.some((f) => written.includes(f.target) || statSync(path.join(c.filesRoot, f.target)).mtimeMs > startedAt)) restart.push(s);
    }
    return { written, removed, restart: restart.sort() };
  }

  async function runScripts(commit: string): Promise<{ run: string; output: string }[]> {
    const c = ctx();
    const config = await configAt(c, commit);
    if (!config.scripts.length) return [];
    const dir = mkdtempSync(path.join(os.tmpdir(), 'titan-config-'));
    try {
      const tree = path.join(dir, 'tree');
      await c.repo.exportTree(commit, tree);
      const results: { run: string; output: string }[] = [];
      for (const s of config.scripts) {
        const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', TITAN_CONFIG_COMMIT: commit, TITAN_CONFIG_FILES_ROOT: c.filesRoot };
        try {
          const { stdout, stderr } = await promisify(execFile)(path.join(tree, s.run), s.args, { cwd: tree, env, timeout: durationMs(s.timeout), maxBuffer: 1 << 20 });
          results.push({ run: s.run, output: tail(stdout + stderr) });
        } catch (err) {
          const e = err as { code?: number; killed?: boolean; stdout?: string; stderr?: string; message: string };
          const why = e.killed ? `timed out after ${s.timeout}` : typeof e.code === 'number' ? `exited with ${e.code}` : e.message;
          throw fail(ErrorType.ConfigScriptFailed)(`config script ${s.run} ${why}: ${tail((e.stdout ?? '') + (e.stderr ?? '')) || '(no output)'}`);
        }
      }
      return results;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

const tail = (s: string) => s.trim().split('\n').slice(-5).join(' | ').slice(-500);
