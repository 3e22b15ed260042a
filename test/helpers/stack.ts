// The local stack as tests see it: where its tools and secrets are, and how to stop and start
// one of its services (scripts/stack.sh is the only thing that starts or stops them).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { payloadKeyring } from '../../src/deps';
import { titanDataConverter } from '../../src/infra/data-converter';
import { parseDotenv } from '../../src/lib/environment';

export const repoRoot = path.resolve(__dirname, '..', '..', '..');
export const temporalBin = path.join(repoRoot, '.titan', 'tools', 'py', 'bin', 'temporal');
/** Temporal's time-skipping test server (workflow tests whose timers run for hours). */
export const testServerBin = path.join(repoRoot, '.titan', 'tools', 'bin', 'temporal-test-server');
export const secretsFile = path.join(repoRoot, '.titan', 'secrets.env');
export const TEMPORAL_ADDRESS = '127.0.0.1:7233';
/** The stack's codec server (scripts/stack/services/codec.sh), which the Web UI calls. */
export const CODEC_ENDPOINT = 'http://127.0.0.1:8235';
/** The stack's Docker engine and the Redis image it builds and pushes to its registry. */
export const dockerSocket = path.join(repoRoot, '.titan', 'run', 'docker.sock');
export const REDIS_IMAGE = '127.0.0.1:5000/titan/redis:7.0';
/** Tests' own namespace (scripts/stack.sh creates it), so `default` shows only real runs. */
export const TEMPORAL_NAMESPACE = 'titan-test';
/** What a child process (CLI, worker) needs to reach the tests' Temporal. */
export const temporalEnv = { TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE };

export function stackSecrets(): Record<string, string> {
  return parseDotenv(readFileSync(secretsFile, 'utf8'));
}

export function stackCtl(...args: string[]): string {
  return execFileSync('bash', [path.join(repoRoot, 'scripts', 'stack.sh'), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export function temporalCli(...args: string[]): string {
  return execFileSync(temporalBin, [...args, '--address', TEMPORAL_ADDRESS, '--namespace', TEMPORAL_NAMESPACE], { encoding: 'utf8' });
}

/** titan.yaml's temporal.encryption: test environments use the stack's payload key too, so the stack's codec server (Web UI) reads their workflows. */
export const STACK_PAYLOAD_ENCRYPTION = { current: 'p2026', keys: { p2026: { keyEnv: 'TITAN_PAYLOAD_KEY_P2026' } } };

/** The data converter of a client holding the stack's payload key, as the worker and CLI do. */
export function stackDataConverter(): DataConverter {
  return titanDataConverter(payloadKeyring(STACK_PAYLOAD_ENCRYPTION, (v) => {
    const value = process.env[v] || stackSecrets()[v];
    if (!value) throw new Error(`${v} missing from ${secretsFile}: run scripts/stack.sh up`);
    return value;
  }));
}

export async function temporalClient(dataConverter: DataConverter = stackDataConverter()): Promise<Client> {
  const connection = await Connection.connect({ address: TEMPORAL_ADDRESS });
  return new Client({ connection, namespace: TEMPORAL_NAMESPACE, dataConverter });
}

/** A short unique suffix so parallel runs and reruns never share names, prefixes or queues. */
export function uniqueName(label: string): string {
  return `${label}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
}
