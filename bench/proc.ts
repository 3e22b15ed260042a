// What the benchmarks share: the median and its interval, and what they read about the machine,
// processes and the stack: free page reporting, resident memory, CPU time, the primary S3
// server's pid and the AWS CLI the manual runbooks use.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { prng } from '../test/helpers/prng';
import { repoRoot } from '../test/helpers/stack';

export const aws = path.join(repoRoot, '.titan', 'tools', 'bin', 'aws');
const CLOCK_TICKS = 100; // sysconf(_SC_CLK_TCK) on Linux

/** The middle value; of an even count, the mean of the two middle ones. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * A 95 % interval for the median of `xs`, by resampling them with replacement (10,000 times, from
 * a fixed seed so a run's figures can be checked): how far the median of rounds on a noisy machine
 * can be trusted.
 */
export function medianInterval(xs: number[]): [number, number] {
  const next = prng(20261206);
  const medians = Array.from({ length: 10_000 }, () => median(xs.map(() => xs[next() % xs.length]!))).sort((a, b) => a - b);
  return [medians[249]!, medians[9749]!];
}

export const s3PrimaryPid = () => Number(readFileSync(path.join(repoRoot, '.titan', 'run', 's3-primary.pid'), 'utf8'));

export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/**
 * User + system CPU seconds a process has used (fields 14 and 15 of /proc/<pid>/stat); with
 * `children`, also its waited-for children's (16 and 17): Redis's snapshot forks, a shell's tools.
 */
export function cpuSeconds(pid: number, children = false): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const own = Number(fields[11]) + Number(fields[12]);
  return (own + (children ? Number(fields[13]) + Number(fields[14]) : 0)) / CLOCK_TICKS;
}

/** backups.encryption for the encrypted variant of a benchmark, with a fresh key in the environment. */
export function benchEncryption(): { current: string; keys: Record<string, { keyEnv: string }> } {
  process.env.TITAN_BENCH_BACKUP_KEY = randomBytes(32).toString('base64');
  return { current: 'bench', keys: { bench: { keyEnv: 'TITAN_BENCH_BACKUP_KEY' } } };
}

/** A ratio against its ceiling, said plainly. */
export const verdict = (ratio: number, target: number) => `${ratio.toFixed(3)} (target ≤ ${target}: ${ratio <= target ? 'MET' : 'MISSED'})`;

/** The 1, 5 and 15 minute load averages: the machine may be shared, and wall times then swing. */
export const loadAverage = () => `load average ${os.loadavg().map((l) => l.toFixed(1)).join(', ')}`;

/**
 * Whether this VM hands free memory back to its host (free page reporting) and how soon. Memory
 * touched again after the host took it costs a hypervisor fault, which the guest sees as a slow
 * copy: here it moved a restore's page-cache writes from 0.1 to 1.2 CPU-s per GiB
 * (docs/benchmarks.md), so it is printed beside the load average.
 */
export function pageReporting(): string {
  const param = (name: string) => {
    try {
      return readFileSync(`/sys/module/page_reporting/parameters/${name}`, 'utf8').trim();
    } catch {
      return undefined;
    }
  };
  const order = param('page_reporting_order');
  if (order === undefined) return 'no free page reporting to the host';
  const delay = param('min_free_ms');
  return `free page reporting to the host: blocks of order ≥ ${order}${delay === undefined ? '' : `, free for ≥ ${delay} ms`}`;
}
