// Runs the built `titan` CLI as an operator would.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { repoRoot, temporalEnv } from './stack';

export interface CliRun { code: number | null; stdout: string; stderr: string }

export function titan(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(repoRoot, 'dist', 'src', 'client.js'), ...args], {
      env: { ...process.env, ...temporalEnv, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
