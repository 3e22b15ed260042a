// npm run bench:logs — Titan's idempotent backfill against a plain shipper, in the same run, on
// each of the stack's log stores (VictoriaLogs, then OpenSearch; BENCH_STORES=opensearch for one).
// Setup: one module container that has logged BENCH_LINES lines (default 500,000) into the stack's
// Docker engine. Every round ships the whole log into an empty label of the store, on both sides:
//   plain: the engine's log stream → Elasticsearch bulk requests of 5,000 lines; no ids, no checks
//          (what `docker logs | shipper` does);
//   titan: the shipModuleLogs activity (line ids; on VictoriaLogs lookups of lines the store may
//          hold, on OpenSearch `create` by _id; heartbeats with the resume point).
// BENCH_ROUNDS rounds (default 3) alternate which side goes first; medians are compared. Prints
// both times, the ratio titan/plain (target ≤ 1.50 on VictoriaLogs, ≤ 1.25 on OpenSearch, which
// deduplicates by _id itself), lines per second, a re-run of Titan over a window the store holds
// entirely (none stored again), and the peak RSS growth (target ≤ 100 MiB on OpenSearch).
import { buildDeps } from '../src/deps';
import { engineLines as readEngine } from '../src/infra/log-source';
import { BULK_LINES, shipModuleLogs } from '../src/infra/log-ship';
import type { ShipResult } from '../src/lib/log-verdicts';
import { normalizeTime } from '../src/lib/log-lines';
import { composeFileFor, docker, emit, engineLines, LOG_STORE, startModule } from '../test/helpers/log-modules';
import { OPENSEARCH, opensearch, openSearchStore, type StoreUnderTest, victoriaLogs } from '../test/helpers/log-stores';
import { dockerSocket, uniqueName } from '../test/helpers/stack';
import { writeTestEnvironment } from '../test/helpers/titan-env';
import { moduleSection } from '../test/helpers/module-compose';

const LINES = Number(process.env.BENCH_LINES ?? 500_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const BENCH_INDEX = 'titan-bench-logs';

/**
 * A store under test, where its plain shipper sends, how it makes lines visible, its targets, and
 * whether each side needs an empty store: an Elasticsearch index refuses a second copy of a line
 * id even under another label, so every side starts from a new index.
 */
interface BenchStore { store: StoreUnderTest; bulkUrl: string; refresh(): Promise<unknown>; ratio: number; rssMiB?: number; emptyEachSide: boolean; cleanup(): Promise<unknown> }
const BENCH_STORES: Record<string, BenchStore> = {
  victorialogs: {
    store: victoriaLogs,
    bulkUrl: `${LOG_STORE}/insert/elasticsearch/_bulk?_msg_field=message&_time_field=@timestamp&_stream_fields=environment,module`,
    refresh: () => fetch(`${LOG_STORE}/internal/force_flush`),
    ratio: 1.5,
    emptyEachSide: false,
    cleanup: async () => undefined,
  },
  opensearch: {
    store: openSearchStore(BENCH_INDEX),
    bulkUrl: `${OPENSEARCH}/${BENCH_INDEX}/_bulk`,
    refresh: () => opensearch('POST', `/${BENCH_INDEX}/_refresh`),
    ratio: 1.25,
    rssMiB: 100,
    emptyEachSide: true,
    cleanup: () => opensearch('DELETE', `/${BENCH_INDEX}`).catch(() => undefined),
  },
};

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Peak RSS growth of this process while `fn` runs, sampled every 50 ms. */
async function measured<T>(fn: () => Promise<T>): Promise<{ value: T; seconds: number; rssGrowth: number }> {
  const base = process.memoryUsage.rss();
  let peak = base;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 50);
  const t0 = process.hrtime.bigint();
  try {
    const value = await fn();
    return { value, seconds: Number(process.hrtime.bigint() - t0) / 1e9, rssGrowth: peak - base };
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

  console.log(`\n${store.name}:`);
  const times = { plain: [] as number[], titan: [] as number[] };
  let rss = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? ['plain', 'titan'] as const : ['titan', 'plain'] as const;
    for (const side of order) {
      if (target.emptyEachSide) {
        await target.cleanup();
        await setUp();
      }
      if (side === 'plain') {
        const label = uniqueName('bench-plain');
        const r = await measured(() => plainShip(target, container, label, until));
        if ((await store.counts(label, 'bulk')).lines !== r.value) throw new Error('plain shipper lost lines');
        times.plain.push(r.seconds);
      } else {
        const env = titanEnv();
        const r = await measured(() => titanShip(env));
        const stored = await store.counts(env.environment, 'bulk');
        if (stored.lines !== r.value.read || stored.distinct !== stored.lines) throw new Error(`titan stored ${stored.lines} (${stored.distinct} distinct) of ${r.value.read} read (${r.value.shipped} shipped, ${r.value.alreadyStored} already stored)`);
        times.titan.push(r.seconds);
        rss = Math.max(rss, r.rssGrowth);
        if (round === ROUNDS - 1) {
          const again = await measured(() => titanShip(env));
          if (again.value.shipped !== 0) throw new Error('the re-run stored lines again');
          console.log(`titan re-run over a window already stored (${again.value.alreadyStored} lines found stored, none stored again): ${again.seconds.toFixed(2)} s`);
        }
      }
      console.log(`round ${round + 1} ${side}: ${times[side].at(-1)!.toFixed(2)} s`);
    }
  }
  const [p, t] = [median(times.plain), median(times.titan)];
  const ratio = t / p;
  const lines = LINES + 1;
  console.log(`${store.name}: ${lines} lines, ${ROUNDS} rounds, medians:`);
  console.log(`${store.name}: plain shipper ${p.toFixed(2)} s (${Math.round(lines / p)} lines/s)`);
  console.log(`${store.name}: titan         ${t.toFixed(2)} s (${Math.round(lines / t)} lines/s)`);
  console.log(`${store.name}: ratio titan/plain ${ratio.toFixed(2)} (target ≤ ${target.ratio.toFixed(2)}) ${ratio <= target.ratio ? 'MET' : 'MISSED'}`);
  const mib = rss / 1024 ** 2;
  console.log(`${store.name}: peak RSS growth during a titan backfill: ${mib.toFixed(1)} MiB${target.rssMiB ? ` (target ≤ ${target.rssMiB} MiB) ${mib <= target.rssMiB ? 'MET' : 'MISSED'}` : ''}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
