// npm run bench:logs — Titan's idempotent backfill against a plain shipper, in the same run, on
// each of the stack's log stores (VictoriaLogs, then OpenSearch; BENCH_STORES=opensearch for one).
// Setup: one module container that has logged BENCH_LINES lines (default 500,000) into the stack's
// Docker engine. Every round ships the whole log into an empty label of the store, on both sides:
//   plain: the engine's log stream → Elasticsearch bulk requests of 5,000 lines; no ids, no checks
//          (what `docker logs | shipper` does);
//   titan: the shipModuleLogs activity (line ids; on VictoriaLogs lookups of lines the store may
//          hold, on OpenSearch `create` by _id; heartbeats with the resume point).
// BENCH_ROUNDS rounds (default 5: the machine is shared, so more rounds steady the medians)
// alternate which side goes first; medians are compared. Prints both times, the ratio titan/plain
// (target ≤ 1.20 on VictoriaLogs, issue 17; ≤ 1.25 on OpenSearch, which deduplicates by _id
// itself), lines per second, where the CPU went on each side (this process, the store's server,
// the Docker engine), a re-run of Titan over a window the store holds entirely (none stored
// again), the peak RSS growth of each side (target ≤ 100 MiB for Titan on OpenSearch), and the
// load average before and after, since other work on the machine moves the times.
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { buildDeps } from '../src/deps';
import { engineLines as readEngine } from '../src/infra/log-source';
import { BULK_LINES, shipModuleLogs } from '../src/infra/log-ship';
import type { ShipResult } from '../src/lib/log-verdicts';
import { normalizeTime } from '../src/lib/log-lines';
import { composeFileFor, docker, emit, engineLines, LOG_STORE, startModule } from '../test/helpers/log-modules';
import { OPENSEARCH, opensearch, openSearchStore, type StoreUnderTest, victoriaLogs } from '../test/helpers/log-stores';
import { dockerSocket, repoRoot, uniqueName } from '../test/helpers/stack';
import { cpuSeconds, median } from './proc';
import { writeTestEnvironment } from '../test/helpers/titan-env';
import { moduleSection } from '../test/helpers/module-compose';

const LINES = Number(process.env.BENCH_LINES ?? 500_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const BENCH_INDEX = 'titan-bench-logs';

/**
 * A store under test, where its plain shipper sends, how it makes lines visible, its targets, and
 * whether each side needs an empty store: an Elasticsearch index refuses a second copy of a line
 * id even under another label, so every side starts from a new index.
 */
interface BenchStore { store: StoreUnderTest; service: string; bulkUrl: string; refresh(): Promise<unknown>; ratio: number; rssMiB?: number; emptyEachSide: boolean; cleanup(): Promise<unknown> }
const BENCH_STORES: Record<string, BenchStore> = {
  victorialogs: {
    store: victoriaLogs,
    service: 'victorialogs',
    bulkUrl: `${LOG_STORE}/insert/elasticsearch/_bulk?_msg_field=message&_time_field=@timestamp&_stream_fields=environment,module`,
    refresh: () => fetch(`${LOG_STORE}/internal/force_flush`),
    ratio: 1.2,
    emptyEachSide: false,
    cleanup: async () => undefined,
  },
  opensearch: {
    store: openSearchStore(BENCH_INDEX),
    service: 'opensearch',
    bulkUrl: `${OPENSEARCH}/${BENCH_INDEX}/_bulk`,
    refresh: () => opensearch('POST', `/${BENCH_INDEX}/_refresh`),
    ratio: 1.25,
    rssMiB: 100,
    emptyEachSide: true,
    cleanup: () => opensearch('DELETE', `/${BENCH_INDEX}`).catch(() => undefined),
  },
};

const pidOf = (service: string) => Number(readFileSync(path.join(repoRoot, '.titan', 'run', `${service}.pid`), 'utf8'));
const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');

/** CPU seconds of this process (the shipper), the store's server and the Docker engine. */
interface Cpu { shipper: number; store: number; engine: number }

/**
 * Wall time, CPU seconds by process and peak RSS growth of this process while `fn` runs (RSS
 * sampled every 50 ms).
 */
async function measured<T>(service: string, fn: () => Promise<T>): Promise<{ value: T; seconds: number; rssGrowth: number; cpu: Cpu }> {
  const cpu = (): Cpu => {
    const own = process.cpuUsage();
    return { shipper: (own.user + own.system) / 1e6, store: cpuSeconds(pidOf(service)), engine: cpuSeconds(pidOf('docker')) };
  };
  const base = process.memoryUsage.rss();
  let peak = base;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 50);
  const c0 = cpu();
  const t0 = process.hrtime.bigint();
  try {
    const value = await fn();
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const c1 = cpu();
    return { value, seconds, rssGrowth: peak - base, cpu: { shipper: c1.shipper - c0.shipper, store: c1.store - c0.store, engine: c1.engine - c0.engine } };
  } finally {
    clearInterval(timer);
  }
}

async function plainShip(target: BenchStore, container: string, label: string, until: string): Promise<number> {
  let batch: string[] = [];
  let n = 0;
  const send = async () => {
    const res = await fetch(target.bulkUrl, {
      method: 'POST', body: batch.join(''), headers: { 'content-type': 'application/x-ndjson' },
    });
    if (!res.ok || (await res.json() as { errors: boolean }).errors) throw new Error('plain shipper: bulk write failed');
    batch = [];
  };
  for await (const l of readEngine(docker, container, { until })) {
    batch.push(`{"create":{}}\n${JSON.stringify({ '@timestamp': l.time, message: l.text, container, stream: l.stream, module: 'bulk', environment: label })}\n`);
    n++;
    if (batch.length >= BULK_LINES) await send();
  }
  if (batch.length) await send();
  await target.refresh();
  return n;
}

async function main() {
  const project = uniqueName('bench-logs').toLowerCase();
  const composeFile = composeFileFor(['bulk']);
  const container = await startModule(project, 'bulk');
  try {
    process.stdout.write(`writing ${LINES} lines into the module's log… `);
    await emit(container, 'bench line with some text in it, like a request log', LINES);
    // The engine timestamps a line when it reads it from the pipe, a little after it was written.
    while (engineLines(container).length < LINES + 1) await new Promise((r) => setTimeout(r, 500));
    const until = normalizeTime(new Date().toISOString());
    console.log('done');

    for (const name of (process.env.BENCH_STORES ?? 'victorialogs,opensearch').split(',')) {
      const target = BENCH_STORES[name];
      if (!target) throw new Error(`BENCH_STORES: unknown store ${name}; one of ${Object.keys(BENCH_STORES).join(', ')}`);
      try {
        await benchStore(target, composeFile, project, container, until);
      } finally {
        await target.cleanup();
      }
    }
  } finally {
    await docker.getContainer(container).remove({ force: true });
  }
}

async function benchStore(target: BenchStore, composeFile: string, project: string, container: string, until: string) {
  const { store } = target;
  const titanEnv = () => writeTestEnvironment({
    redisUrl: 'redis://127.0.0.1:1', docker: { socketPath: dockerSocket },
    modules: moduleSection(composeFile, project), logging: { store: store.section },
  });
  // `since` the epoch: the whole log, also when the store holds it all already.
  const titanShip = (env: ReturnType<typeof titanEnv>): Promise<ShipResult> =>
    shipModuleLogs(buildDeps(env.loaded).logs(), { module: 'bulk', since: normalizeTime('1970-01-01T00:00:00Z'), until }, undefined, () => undefined);
  // Titan sets its index up before the first write; the plain shipper writes into the same one.
  const setUp = () => buildDeps(titanEnv().loaded).logs().store.flush();
  await setUp();

  console.log(`\n${store.name} (load average ${load()}):`);
  type Side = 'plain' | 'titan';
  const runs: Record<Side, { seconds: number; rssGrowth: number; cpu: Cpu }[]> = { plain: [], titan: [] };
  for (let round = 0; round < ROUNDS; round++) {
    const order: Side[] = round % 2 === 0 ? ['plain', 'titan'] : ['titan', 'plain'];
    for (const side of order) {
      if (target.emptyEachSide) {
        await target.cleanup();
        await setUp();
      }
      if (side === 'plain') {
        const label = uniqueName('bench-plain');
        const r = await measured(target.service, () => plainShip(target, container, label, until));
        if ((await store.counts(label, 'bulk')).lines !== r.value) throw new Error('plain shipper lost lines');
        runs.plain.push(r);
      } else {
        const env = titanEnv();
        const r = await measured(target.service, () => titanShip(env));
        const stored = await store.counts(env.environment, 'bulk');
        if (stored.lines !== r.value.read || stored.distinct !== stored.lines) throw new Error(`titan stored ${stored.lines} (${stored.distinct} distinct) of ${r.value.read} read (${r.value.shipped} shipped, ${r.value.alreadyStored} already stored)`);
        runs.titan.push(r);
        if (round === ROUNDS - 1) {
          const again = await measured(target.service, () => titanShip(env));
          if (again.value.shipped !== 0) throw new Error('the re-run stored lines again');
          console.log(`titan re-run over a window already stored (${again.value.alreadyStored} lines found stored, none stored again): ${again.seconds.toFixed(2)} s`);
        }
      }
      const r = runs[side].at(-1)!;
      console.log(`round ${round + 1} ${side}: ${r.seconds.toFixed(2)} s; CPU s: shipper ${r.cpu.shipper.toFixed(2)}, ${store.name} ${r.cpu.store.toFixed(2)}, engine ${r.cpu.engine.toFixed(2)}; RSS +${(r.rssGrowth / 1024 ** 2).toFixed(1)} MiB; load ${load()}`);
    }
  }
  const med = (side: Side, f: (r: (typeof runs)[Side][number]) => number) => median(runs[side].map(f));
  const [p, t] = [med('plain', (r) => r.seconds), med('titan', (r) => r.seconds)];
  const ratio = t / p;
  const lines = LINES + 1;
  console.log(`${store.name}: ${lines} lines, ${ROUNDS} rounds, medians (load average now ${load()}):`);
  for (const side of ['plain', 'titan'] as const) {
    const s = med(side, (r) => r.seconds);
    console.log(`${store.name}: ${side === 'plain' ? 'plain shipper' : 'titan        '} ${s.toFixed(2)} s (${Math.round(lines / s)} lines/s); CPU s: shipper ${med(side, (r) => r.cpu.shipper).toFixed(2)}, ${store.name} ${med(side, (r) => r.cpu.store).toFixed(2)}, engine ${med(side, (r) => r.cpu.engine).toFixed(2)}; peak RSS growth ${(med(side, (r) => r.rssGrowth) / 1024 ** 2).toFixed(1)} MiB`);
  }
  console.log(`${store.name}: ratio titan/plain ${ratio.toFixed(2)} (target ≤ ${target.ratio.toFixed(2)}) ${ratio <= target.ratio ? 'MET' : 'MISSED'}`);
  // What the wall ratio comes close to when the two vCPUs are the limit and nothing else runs.
  const cpuTotal = (side: Side) => med(side, (r) => r.cpu.shipper) + med(side, (r) => r.cpu.store) + med(side, (r) => r.cpu.engine);
  console.log(`${store.name}: CPU seconds of shipper, store and engine (sum of medians), titan/plain: ${cpuTotal('titan').toFixed(2)} / ${cpuTotal('plain').toFixed(2)} = ${(cpuTotal('titan') / cpuTotal('plain')).toFixed(2)}`);
  const mib = Math.max(...runs.titan.map((r) => r.rssGrowth)) / 1024 ** 2;
  console.log(`${store.name}: highest peak RSS growth of a titan backfill: ${mib.toFixed(1)} MiB${target.rssMiB ? ` (target ≤ ${target.rssMiB} MiB) ${mib <= target.rssMiB ? 'MET' : 'MISSED'}` : ''}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
