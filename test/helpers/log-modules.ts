// Modules that log, for the log-resumption tests: containers of titan/module:1 carrying a compose
// project's labels (so Titan sees them as the project's modules), lines written through their
// PID 1's stdout, counted with the docker CLI and with LogsQL independently of Titan's own code.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Docker from 'dockerode';
import { stringify } from 'yaml';
import { freePort } from './redis-server';
import { dockerSocket, repoRoot, uniqueName } from './stack';

export const LOG_STORE = 'http://127.0.0.1:9428';
const IMAGE = '127.0.0.1:5000/titan/module:1';

export const docker = new Docker({ socketPath: dockerSocket });

/** A compose file naming the modules (their containers are made by `startModule`). */
export function composeFileFor(modules: string[]): string {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'titan-logs-')), 'docker-compose.yml');
  writeFileSync(file, stringify({ services: Object.fromEntries(modules.map((m) => [m, { image: IMAGE, network_mode: 'host' }])) }));
  return file;
}


/** A module container; without `healthcheck`, the image's health probe (one log line each) is off, so a test knows every line. */
export async function startModule(project: string, module: string, opts: { healthcheck?: boolean } = {}): Promise<string> {
  const c = await docker.createContainer({
    Image: IMAGE,
    ...(opts.healthcheck ? { Healthcheck: { Interval: 500_000_000 } } : { Healthcheck: { Test: ['NONE'] } }),
    name: uniqueName(`${project}-${module}`),
    Env: [`PORT=${await freePort()}`],
    Labels: { 'com.docker.compose.project': project, 'com.docker.compose.service': module, 'com.docker.compose.oneoff': 'False' },
    HostConfig: { NetworkMode: 'host' },
  });
  await c.start();
  return c.id;
}

/** Writes `count` lines "<label> 1" … "<label> count" into the module's log, as the module would. */
export async function emit(container: string, label: string, count: number): Promise<void> {
  const exec = await docker.getContainer(container).exec({
    Cmd: ['awk', '-v', `n=${count}`, '-v', `l=${label}`, 'BEGIN { for (i = 1; i <= n; i++) print l " " i > "/proc/1/fd/1" }'],
    AttachStdout: true, AttachStderr: true,
  });
  const out = await exec.start({ hijack: true, stdin: false });
  await new Promise<void>((resolve, reject) => { out.on('end', resolve); out.on('error', reject); out.resume(); });
  const { ExitCode } = await exec.inspect();
  if (ExitCode !== 0) throw new Error(`emit into ${container} exited ${ExitCode}`);
}

/** The engine's lines of the container (up to `until`, RFC 3339), by the docker CLI with its timestamps. */
export function engineLines(container: string, until?: string): { time: string; text: string }[] {
  const out = execFileSync('docker', ['--host', `unix://${dockerSocket}`, 'logs', '--timestamps', ...(until ? ['--until', until] : []), container], { encoding: 'utf8', maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'pipe'] });
  return out.split('\n').filter((l) => l).map((l) => ({ time: l.slice(0, l.indexOf(' ')), text: l.slice(l.indexOf(' ') + 1) }));
}

export async function logsql<T = Record<string, string>>(query: string, url = LOG_STORE): Promise<T[]> {
  await fetch(`${url}/internal/force_flush`);
  const res = await fetch(`${url}/select/logsql/query`, { method: 'POST', body: new URLSearchParams({ query }) });
  if (!res.ok) throw new Error(`LogsQL ${query}: ${res.status} ${await res.text()}`);
  return (await res.text()).split('\n').filter((l) => l).map((l) => JSON.parse(l) as T);
}

/** Lines and distinct ids stored for the module of this environment (up to `until`, inclusive). */
export async function storedCounts(environment: string, module: string, until?: string) {
  const window = until ? ` _time:[1970-01-01T00:00:00Z, ${until}]` : '';
  const [row] = await logsql(`environment:=${JSON.stringify(environment)} module:=${JSON.stringify(module)}${window} | stats count() lines, count_uniq(titan_id) distinct`);
  return { lines: Number(row?.lines ?? 0), distinct: Number(row?.distinct ?? 0) };
}

/** Removes lines from the store (VictoriaLogs' delete API) and waits until they are gone. */
export async function deleteFromStore(filter: string, url = LOG_STORE): Promise<void> {
  const res = await fetch(`${url}/delete/run_task`, { method: 'POST', body: new URLSearchParams({ filter }) });
  if (!res.ok) throw new Error(`delete ${filter}: ${res.status} ${await res.text()}`);
  for (let i = 0; i < 300; i++) {
    if ((await logsql(`${filter} | stats count() n`, url))[0]?.n === '0') return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`lines matching ${filter} still stored after 60 s`);
}

export const victoriaLogsBin = path.join(repoRoot, '.titan', 'tools', 'go', 'bin', 'victoria-logs');
