// npm run bench:logs — Titan's idempotent backfill against a plain shipper, in the same run.
// Setup: one module container that has logged BENCH_LINES lines (default 500,000) into the stack's
// Docker engine; the stack's VictoriaLogs. Every round ships the whole log into an empty label of
// the store, on both sides:
//   plain: the engine's log stream → Elasticsearch bulk requests of 5,000 lines; no ids, no checks
//          (what `docker logs | shipper` does);
//   titan: the shipModuleLogs activity (line ids, lookups of lines the store may hold, heartbeats
//          with the resume point).
// BENCH_ROUNDS rounds (default 3) alternate which side goes first; medians are compared. Prints
// both times, the ratio titan/plain (target ≤ 1.50), lines per second, a re-run of Titan over a
// window the store holds entirely (every line looked up by id, none sent), and the peak RSS growth.
import { buildDeps } from '../src/deps';
import { engineLines as readEngine } from '../src/infra/log-source';
import { BULK_LINES, shipModuleLogs } from '../src/infra/log-ship';
import type { ShipResult } from '../src/lib/log-verdicts';
import { normalizeTime } from '../src/lib/log-lines';
import { composeFileFor, docker, emit, engineLines, LOG_STORE, startModule, storedCounts } from '../test/helpers/log-modules';
import { dockerSocket, uniqueName } from '../test/helpers/stack';
import { writeTestEnvironment } from '../test/helpers/titan-env';
import { moduleSection } from '../test/helpers/module-compose';

const LINES = Number(process.env.BENCH_LINES ?? 500_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const TARGET = 1.5;

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

async function plainShip(container: string, label: string, until: string): Promise<number> {
  let batch: string[] = [];
  let n = 0;
  const send = async () => {
    const res = await fetch(`${LOG_STORE}/insert/elasticsearch/_bulk?_msg_field=message&_time_field=@timestamp&_stream_fields=environment,module`, {
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
  await fetch(`${LOG_STORE}/internal/force_flush`);
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

    const titanEnv = () => writeTestEnvironment({
      redisUrl: 'redis://127.0.0.1:1', docker: { socketPath: dockerSocket },
      modules: moduleSection(composeFile, project), logging: { store: { victorialogs: { url: LOG_STORE } } },
    });
    // `since` the epoch: the whole log, also when the store holds it all already.
    const titanShip = (env: ReturnType<typeof titanEnv>): Promise<ShipResult> =>
      shipModuleLogs(buildDeps(env.loaded).logs(), { module: 'bulk', since: normalizeTime('1970-01-01T00:00:00Z'), until }, undefined, () => undefined);

    const times = { plain: [] as number[], titan: [] as number[] };
    let rss = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? ['plain', 'titan'] as const : ['titan', 'plain'] as const;
      for (const side of order) {
        if (side === 'plain') {
          const label = uniqueName('bench-plain');
          const r = await measured(() => plainShip(container, label, until));
          if ((await storedCounts(label, 'bulk')).lines !== r.value) throw new Error('plain shipper lost lines');
          times.plain.push(r.seconds);
        } else {
          const env = titanEnv();
          const r = await measured(() => titanShip(env));
          const stored = await storedCounts(env.environment, 'bulk');
          if (stored.lines !== r.value.read || stored.distinct !== stored.lines) throw new Error(`titan stored ${stored.lines} (${stored.distinct} distinct) of ${r.value.read}`);
          times.titan.push(r.seconds);
          rss = Math.max(rss, r.rssGrowth);
          if (round === ROUNDS - 1) {
            const again = await measured(() => titanShip(env));
            if (again.value.shipped !== 0) throw new Error('the re-run sent lines again');
            console.log(`titan re-run over a window already stored (${again.value.alreadyStored} lines looked up, none sent): ${again.seconds.toFixed(2)} s`);
          }
        }
        console.log(`round ${round + 1} ${side}: ${times[side].at(-1)!.toFixed(2)} s`);
      }
    }
    const [p, t] = [median(times.plain), median(times.titan)];
    const ratio = t / p;
    console.log(`\n${LINES + 1} lines, ${ROUNDS} rounds, medians:`);
    console.log(`plain shipper ${p.toFixed(2)} s (${Math.round((LINES + 1) / p)} lines/s)`);
    console.log(`titan         ${t.toFixed(2)} s (${Math.round((LINES + 1) / t)} lines/s)`);
    console.log(`ratio titan/plain ${ratio.toFixed(2)} (target ≤ ${TARGET.toFixed(2)}) ${ratio <= TARGET ? 'MET' : 'MISSED'}`);
    console.log(`peak RSS growth during a titan backfill: ${(rss / 1024 ** 2).toFixed(1)} MiB`);
  } finally {
    await docker.getContainer(container).remove({ force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
