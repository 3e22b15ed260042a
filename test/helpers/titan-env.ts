// Writes an environment file for one test: the stack's S3 locations under a unique prefix, a Redis
// of the test's own, and its own task queue, so tests never touch each other's (or real) backups.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { loadEnvironment, type LoadedEnvironment } from '../../src/load-environment';
import { secretsFile, STACK_PAYLOAD_ENCRYPTION, uniqueName } from './stack';

export interface TestEnvOptions {
  /** A backup-only Redis named main (its runAs is never used)… */
  redisUrl?: string;
  /** …or full instance entries, for restores. */
  instances?: Record<string, Record<string, unknown>>;
  /** Name of the env var holding the Redis password (the test sets it). */
  redisPasswordEnv?: string;
  primaryBucket?: string;
  offsite?: boolean;
  /** Object Lock on the off-site location (the stack's off-site bucket has Object Lock enabled). */
  offsiteLock?: 'COMPLIANCE' | 'GOVERNANCE';
  partSizeMiB?: number;
  retention?: { hourlyHours?: number; dailyDays?: number; orphanGraceHours?: number };
  schedules?: Record<string, { cron: string; retentionClass: 'hourly' | 'daily'; redis: string; from?: string }>;
  docker?: { socketPath: string };
  /** hosts: each served by its own worker (TITAN_HOST). */
  hosts?: Record<string, Record<string, unknown>>;
  modules?: Record<string, unknown>;
  configSync?: Record<string, unknown>;
  logging?: Record<string, unknown>;
  recovery?: Record<string, unknown>;
  /** backups.encryption: { current, keys: { id: { keyEnv } } } (the test sets the variables). */
  encryption?: { current: string; keys: Record<string, { keyEnv: string }> };
  /** temporal.encryption; default: the stack's payload key (titan.yaml's), as a deployment has. */
  payloadEncryption?: { current: string; keys: Record<string, { keyEnv: string }> };
}

export interface TestEnv {
  file: string;
  loaded: LoadedEnvironment;
  environment: string;
  taskQueue: string;
  prefix: string;
}

/** Every environment written in this run, so the root hook can remove their backups. */
export const writtenEnvironments: TestEnv[] = [];

export function writeTestEnvironment(o: TestEnvOptions): TestEnv {
  const environment = uniqueName('t');
  const prefix = `test/${environment}/`;
  const taskQueue = `titan-${environment}`;
  const s3 = (endpoint: string, bucket: string, keyEnv: string, secretEnv: string) => ({
    s3: { endpoint, bucket, prefix, accessKeyIdEnv: keyEnv, secretAccessKeyEnv: secretEnv },
  });
  const withLock = (l: ReturnType<typeof s3>, mode?: string) => (mode ? { s3: { ...l.s3, objectLock: { mode } } } : l);
  const doc = {
    environment,
    secretsFile,
    taskQueue,
    temporal: { encryption: o.payloadEncryption ?? STACK_PAYLOAD_ENCRYPTION },
    ...(o.docker ? { docker: o.docker } : {}),
    ...(o.hosts ? { hosts: o.hosts } : {}),
    ...(o.modules ? { modules: o.modules } : {}),
    ...(o.configSync ? { configSync: o.configSync } : {}),
    ...(o.logging ? { logging: o.logging } : {}),
    ...(o.recovery ? { recovery: o.recovery } : {}),
    redis: o.instances ?? {
      main: {
        url: o.redisUrl,
        ...(o.redisPasswordEnv ? { passwordEnv: o.redisPasswordEnv } : {}),
        runAs: { container: 'unused-in-backup-tests' },
        dataDir: '/nonexistent',
      },
    },
    backups: {
      partSizeMiB: o.partSizeMiB ?? 5,
      locations: {
        primary: s3('http://127.0.0.1:8333', o.primaryBucket ?? 'titan-backups', 'TITAN_S3_ACCESS_KEY_ID', 'TITAN_S3_SECRET_ACCESS_KEY'),
        ...(o.offsite === false ? {} : { offsite: withLock(s3('http://127.0.0.1:8334', 'titan-offsite', 'TITAN_OFFSITE_S3_ACCESS_KEY_ID', 'TITAN_OFFSITE_S3_SECRET_ACCESS_KEY'), o.offsiteLock) }),
      },
      ...(o.encryption ? { encryption: o.encryption } : {}),
      retention: o.retention ?? {},
      schedules: o.schedules ?? {},
    },
  };
  const dir = mkdtempSync(path.join(os.tmpdir(), 'titan-env-'));
  const file = path.join(dir, 'titan.yaml');
  writeFileSync(file, stringify(doc));
  const env = { file, loaded: loadEnvironment(file), environment, taskQueue, prefix };
  writtenEnvironments.push(env);
  return env;
}

/** Replaces temporal.encryption in a test's environment file (rotating payload keys) and reloads it. */
export function setPayloadEncryption(env: TestEnv, encryption: NonNullable<TestEnvOptions['payloadEncryption']>): void {
  const doc = parse(readFileSync(env.file, 'utf8')) as { temporal: Record<string, unknown> };
  doc.temporal.encryption = encryption;
  writeFileSync(env.file, stringify(doc));
  env.loaded = loadEnvironment(env.file);
}

/** Replaces backups.encryption in a test's environment file (as an operator rotating keys would) and reloads it. */
export function setEncryption(env: TestEnv, encryption: TestEnvOptions['encryption']): void {
  const doc = parse(readFileSync(env.file, 'utf8')) as { backups: Record<string, unknown> };
  if (encryption) doc.backups.encryption = encryption;
  else delete doc.backups.encryption;
  writeFileSync(env.file, stringify(doc));
  env.loaded = loadEnvironment(env.file);
}
