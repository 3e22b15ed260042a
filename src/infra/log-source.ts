// The log source: each module's container log streams, read from the Docker engine (which keeps
// what a module wrote while the central store was down). Every line gets a stable id, so shipping
// the same line twice is recognised by the store side.
import type Docker from 'dockerode';
import { type EngineTime, engineTime, normalizeTime } from '../lib/log-lines';
import type { SourceContainer } from '../lib/log-verdicts';
import { sha256Hex } from '../lib/sha256';

export interface SourceLine {
  container: string;
  time: EngineTime;
  stream: 'stdout' | 'stderr';
  text: string;
  /** SHA-256 of container, time, stream, text and its rank among identical lines of that nanosecond. */
  id: string;
}

/** The module's containers (docker-compose labels), oldest first, running or not. */
export async function moduleContainers(docker: Docker, project: string, module: string): Promise<SourceContainer[]> {
  const list = await docker.listContainers({ all: true, filters: { label: [`com.docker.compose.project=${project}`, `com.docker.compose.service=${module}`] } });
  return list
    .map((c) => ({ id: c.Id, name: (c.Names[0] ?? c.Id).replace(/^\//, ''), running: c.State === 'running', created: new Date(c.Created * 1000).toISOString() }))
    .sort((a, b) => a.created.localeCompare(b.created) || a.id.localeCompare(b.id));
}

/**
 * The container's lines with times in [since, until] (both inclusive, as the engine filters), in
 * the order written, streamed: a backfill of millions of lines holds one chunk at a time.
 */
export function containerLines(docker: Docker, container: string, window: { since?: EngineTime; until: EngineTime }): AsyncGenerator<SourceLine> {
  return withIds(container, engineLines(docker, container, window));
}

/** Gives each line of one container its stable id (see lineRanker), wherever the lines are read from. */
export async function* withIds(container: string, lines: AsyncIterable<EngineLine>): AsyncGenerator<SourceLine> {
  const rank = lineRanker(container);
  for await (const l of lines) yield rank(l.time, l.stream, l.text);
}

export interface EngineLine { time: EngineTime; stream: 'stdout' | 'stderr'; text: string }

/** The engine's log lines as it stores them: time, stream, text. */
export async function* engineLines(docker: Docker, container: string, window: { since?: EngineTime; until: EngineTime }): AsyncGenerator<EngineLine> {
  const stream = await new Promise<NodeJS.ReadableStream>((resolve, reject) => {
    docker.modem.dial({
      path: `/containers/${container}/logs?`,
      method: 'GET',
      isStream: true,
      statusCodes: { 200: true, 404: 'no such container', 500: 'server error' },
      options: { stdout: true, stderr: true, timestamps: true, follow: false, since: window.since ? engineTime(window.since) : '0', until: engineTime(window.until) },
    }, (err: Error | null, s: unknown) => (err ? reject(err) : resolve(s as NodeJS.ReadableStream)));
  });
  let buf: Buffer = Buffer.alloc(0);
  const frames: { stream: 'stdout' | 'stderr'; payload: Buffer }[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    // Multiplexed frames: 1 byte stream (1 stdout, 2 stderr), 3 zero bytes, 4 bytes size, payload.
    let i = 0;
    while (i + 8 <= buf.length) {
      const size = buf.readUInt32BE(i + 4);
      if (i + 8 + size > buf.length) break;
      frames.push({ stream: buf[i] === 2 ? 'stderr' : 'stdout', payload: buf.subarray(i + 8, i + 8 + size) });
      i += 8 + size;
    }
    buf = buf.subarray(i);
    for (const f of frames.splice(0)) {
      for (const raw of f.payload.toString('utf8').split('\n')) {
        if (raw.length === 0) continue;
        const space = raw.indexOf(' ');
        yield { time: normalizeTime(raw.slice(0, space)), stream: f.stream, text: raw.slice(space + 1) };
      }
    }
  }
}

/**
 * Stable ids: lines identical in every field within one nanosecond differ by their rank. Most
 * nanoseconds hold one line, so the counts are kept only once a second line shares one (a Map
 * write per line was a fifth of this function's time).
 */
function lineRanker(container: string) {
  let at = '';
  let first = '';
  let seen: Map<string, number> | undefined;
  return (time: EngineTime, stream: 'stdout' | 'stderr', text: string): SourceLine => {
    const key = `${stream}\n${text}`;
    let n = 0;
    if (time !== at) {
      at = time;
      first = key;
      seen = undefined;
    } else {
      seen ??= new Map([[first, 1]]);
      n = seen.get(key) ?? 0;
      seen.set(key, n + 1);
    }
    const id = sha256Hex(`${container}\n${time}\n${key}\n${n}`).slice(0, 32);
    return { container, time, stream, text, id };
  };
}

/**
 * Writes `text` through the module itself, into its PID 1's stdout (where the engine collects the
 * module's log), and waits until the engine has it; returns the time the engine gave the line.
 */
export async function writeCanary(docker: Docker, container: string, text: string): Promise<EngineTime> {
  const c = docker.getContainer(container);
  const before = normalizeTime(new Date(Date.now() - 1000).toISOString());
  const exec = await c.exec({ Cmd: ['sh', '-c', 'printf "%s\\n" "$1" > /proc/1/fd/1', 'titan-canary', text], AttachStdout: true, AttachStderr: true });
  const out = await exec.start({ hijack: true, stdin: false });
  await new Promise<void>((resolve, reject) => { out.on('end', resolve); out.on('error', reject); out.resume(); });
  const { ExitCode } = await exec.inspect();
  if (ExitCode !== 0) throw new Error(`could not write the canary into container ${container} (exit ${ExitCode}; the module image needs sh)`);
  for (let attempt = 0; attempt < 50; attempt++) {
    for await (const line of containerLines(docker, container, { since: before, until: normalizeTime(new Date(Date.now() + 1000).toISOString()) })) {
      if (line.text === text) return line.time;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the canary written into container ${container} did not reach the engine's log within 10 s`);
}
