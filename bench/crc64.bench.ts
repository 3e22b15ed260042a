// npm run bench:crc64 — CRC-64/Jones throughput: the JavaScript reference (lib/crc64.ts) against
// the WebAssembly build (lib/crc64-fast.ts), one stream and three interleaved streams, fed in
// chunks the size a socket delivers (64 KiB) and in 8 MiB parts. Prints MB per CPU second per variant
// (median of BENCH_ROUNDS, default 5) and each one's ratio to JavaScript, plus CPU seconds per GiB.
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { Crc64 } from '../src/lib/crc64';
import { WasmCrc64 } from '../src/lib/crc64-fast';
import { median } from './proc';

const MiB = 1024 ** 2;
const TOTAL = 256 * MiB;

const variants: [string, () => Crc64][] = [
  ['javascript', () => new Crc64()],
  ['wasm, 1 stream', () => new WasmCrc64(1)],
  ['wasm, 3 streams', () => new WasmCrc64(3)],
];

function secondsFor(make: () => Crc64, chunks: Buffer[]): { seconds: number; hex: string } {
  const c = make();
  // CPU time, not wall time: other processes share the cores, and this loop never waits.
  const t0 = process.cpuUsage();
  for (let done = 0; done < TOTAL; ) for (const chunk of chunks) (c.update(chunk), (done += chunk.length));
  const t = process.cpuUsage(t0);
  return { seconds: (t.user + t.system) / 1e6, hex: c.hex() };
}

function main() {
  const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
  console.log(`${os.cpus().length} CPUs, ${os.cpus()[0]?.model}; ${TOTAL / MiB} MiB per run, median of ${rounds} rounds`);
  console.log('chunk     variant            MB/CPU-s  CPU s/GiB  ratio to JavaScript');
  for (const chunkBytes of [64 * 1024, 8 * MiB]) {
    const chunks = Array.from({ length: Math.min(16, TOTAL / chunkBytes) }, () => randomBytes(chunkBytes));
    let jsRate = 0;
    let jsHex = '';
    for (const [name, make] of variants) {
      secondsFor(make, chunks); // warm up (JIT, wasm instantiation)
      const runs = Array.from({ length: rounds }, () => secondsFor(make, chunks));
      if (!jsHex) jsHex = runs[0]!.hex;
      // Same input, so every variant must give the reference's CRC.
      if (runs[0]!.hex !== jsHex) throw new Error(`${name} gave ${runs[0]!.hex}, JavaScript ${jsHex}`);
      const seconds = median(runs.map((r) => r.seconds));
      const rate = TOTAL / seconds / 1e6;
      if (!jsRate) jsRate = rate;
      console.log(`${`${chunkBytes / 1024} KiB`.padEnd(8)}  ${name.padEnd(16)}  ${rate.toFixed(0).padStart(8)}  ${((seconds * 1024 ** 3) / TOTAL).toFixed(3).padStart(9)}  ${(rate / jsRate).toFixed(2)}`);
    }
  }
}

main();
