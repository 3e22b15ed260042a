// Reads the environment file chosen by --config / TITAN_CONFIG (default: titan.yaml in the repo)
// and resolves secrets by name. Used by the worker and the CLI; never by workflows.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Environment } from './lib/config';
import { parseDotenv, parseEnvironment } from './lib/environment';
import { ConfigError } from './lib/validation';
import { ErrorType } from './lib/errors';

export interface LoadedEnvironment {
  env: Environment;
  /** Absolute path of the environment file. */
  file: string;
  /** The file as the user named it (--config, TITAN_CONFIG), for the CLI's messages. */
  source: string;
  /** Resolves a path written in the file relative to the file's folder. */
  resolvePath(p: string): string;
  /** The value of a secret referenced by env var name; throws naming the variable when unset. */
  secret(envVar: string, field: string): string;
}

export const DEFAULT_CONFIG = path.resolve(__dirname, '..', '..', 'titan.yaml');

export function loadEnvironment(file = process.env.TITAN_CONFIG || DEFAULT_CONFIG): LoadedEnvironment {
  const abs = path.resolve(file);
  if (!existsSync(abs)) throw new ConfigError(`${file}: environment file not found`);
  // Messages name the file as the user gave it (absolute stays absolute); the default, relative to here.
  const source = file === DEFAULT_CONFIG ? path.relative(process.cwd(), abs) || abs : file;
  const env = parseEnvironment(readFileSync(abs, 'utf8'), source);
  const resolvePath = (p: string) => path.resolve(path.dirname(abs), p);
  let fileSecrets: Record<string, string> | undefined;
  const secret = (envVar: string, field: string): string => {
    const fromProcess = process.env[envVar];
    if (fromProcess) return fromProcess;
    if (env.secretsFile && fileSecrets === undefined) {
      const f = resolvePath(env.secretsFile);
      fileSecrets = existsSync(f) ? parseDotenv(readFileSync(f, 'utf8')) : {};
    }
    const value = fileSecrets?.[envVar];
    if (!value) throw new SecretMissingError(`secret ${envVar} (${field}) is not set in the environment${env.secretsFile ? ` or ${env.secretsFile}` : ''}`);
    return value;
  };
  return { env, file: abs, source, resolvePath, secret };
}

export class SecretMissingError extends Error {
  override name = ErrorType.SecretMissing;
}

/** The named Redis instance, or an error listing the known ones. */
export function requireRedisInstance(loaded: LoadedEnvironment, name: string) {
  const r = loaded.env.redis[name];
  if (!r) throw new Error(`no Redis instance named "${name}" in ${loaded.source} (known: ${Object.keys(loaded.env.redis).join(', ')})`);
  return r;
}
