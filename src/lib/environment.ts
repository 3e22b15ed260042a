// Parsing the environment file: the schema of config.ts, then the checks that span sections
// (instances named elsewhere, data directories, the recovery plan, the drill's sandbox). A bad
// file is refused with one ConfigError naming the field, before anything runs.
import { type Environment, environmentSchema } from './config';
import { drillProblem } from './drill';
import { hostOf, hostProblem } from './hosts';
import { recoveryProblem } from './recovery-plan';
import { checkDocument, ConfigError, parseYamlDocument } from './validation';

/** Parses and validates the environment file text; throws one ConfigError naming the first bad field. */
export function parseEnvironment(text: string, source: string): Environment {
  const doc = parseYamlDocument(text, source);
  const result = checkDocument(environmentSchema, doc);
  if (!result.ok) throw new ConfigError(`${source}: ${result.field}: ${result.message}`);
  const env = result.data;
  // A restore into one instance must never touch another's files (drills restore beside production);
  // the same path on two hosts is two directories.
  const dirs = new Map<string, string>();
  for (const [n, r] of Object.entries(env.redis)) {
    const dir = `${hostOf(env, r) ?? ''}:${r.dataDir.replace(/\/+$/, '')}`;
    const other = dirs.get(dir);
    if (other) throw new ConfigError(`${source}: redis.${n}.dataDir: the same data directory as redis.${other}; a restore into one would overwrite the other`);
    dirs.set(dir, n);
    if (r.tls && new URL(r.url).protocol !== 'rediss:') throw new ConfigError(`${source}: redis.${n}.tls: needs a rediss:// URL (${r.url} is plain redis://)`);
  }
  if (env.logging && !env.modules) throw new ConfigError(`${source}: logging: needs a modules section (the log sources are the modules' containers)`);
  if (env.configSync && !env.redis[env.configSync.redis]) throw new ConfigError(`${source}: configSync.redis: no Redis instance named "${env.configSync.redis}"`);
  for (const [id, s] of Object.entries(env.backups.schedules)) {
    if (!env.redis[s.redis]) throw new ConfigError(`${source}: backups.schedules.${id}.redis: no Redis instance named "${s.redis}"`);
    if (s.from !== undefined && !env.redis[s.from]) throw new ConfigError(`${source}: backups.schedules.${id}.from: no Redis instance named "${s.from}"`);
    if (s.from === s.redis) throw new ConfigError(`${source}: backups.schedules.${id}.from: must name a replica of ${s.redis}, not ${s.redis} itself`);
  }
  const recovery = hostProblem(env) ?? recoveryProblem(env) ?? drillProblem(env);
  if (recovery) throw new ConfigError(`${source}: ${recovery.field}: ${recovery.message}`);
  return env;
}

/** Reads `NAME=value` lines (the dotenv subset `node --env-file` accepts). */
export function parseDotenv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (m && !line.trimStart().startsWith('#')) out[m[1]!] = m[2]!.replace(/^(['"])(.*)\1$/, '$2');
  }
  return out;
}
