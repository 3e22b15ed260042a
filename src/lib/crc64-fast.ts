// CRC-64/Jones in WebAssembly (crc64-wasm/crc64.c, built by scripts/build-wasm.sh): the same
// slicing-by-16 tables as crc64.ts, but on native 64-bit integers instead of two uint32 halves,
// and optionally three interleaved streams combined at the end (as Redis 8 does). Input is copied
// into the module's memory in slices of its input area; the copy costs far less than the CRC.
import { Crc64 } from './crc64';
import { CRC64_WASM_BASE64 } from './crc64-wasm/bytes';

// Just what is used of the WebAssembly global (the DOM typings that declare it are not loaded).
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
};

interface Exports {
  memory: { buffer: ArrayBuffer };
  input: { value: number };
  result: { value: number };
  init(): void;
  input_bytes(): number;
  update1(lo: number, hi: number, n: number): void;
  update3(lo: number, hi: number, n: number): void;
}

let loaded: { wasm: Exports; heap: Uint8Array; out: Uint32Array; inputAt: number; inputBytes: number } | undefined;

/** One instance per process, instantiated on first use (about a millisecond). */
function module() {
  if (loaded) return loaded;
  const bytes = Uint8Array.from(atob(CRC64_WASM_BASE64), (c) => c.charCodeAt(0));
  const wasm = new WebAssembly.Instance(new WebAssembly.Module(bytes), {}).exports as unknown as Exports;
  wasm.init();
  // The memory never grows (no allocator), so these views stay valid.
  const heap = new Uint8Array(wasm.memory.buffer);
  loaded = { wasm, heap, out: new Uint32Array(wasm.memory.buffer, wasm.result.value, 2), inputAt: wasm.input.value, inputBytes: wasm.input_bytes() };
  return loaded;
}

export class WasmCrc64 extends Crc64 {
  /** 3 interleaves three streams per slice; 1 is the plain loop (kept for the benchmark). */
  constructor(private readonly streams: 1 | 3 = 3) {
    super();
  }

  override update(buf: Uint8Array): this {
    const { wasm, heap, out, inputAt, inputBytes } = module();
    const run = this.streams === 3 ? wasm.update3 : wasm.update1;
    for (let i = 0; i < buf.length; i += inputBytes) {
      const slice = buf.subarray(i, i + inputBytes);
      heap.set(slice, inputAt);
      run(this.lo, this.hi, slice.length);
      this.lo = out[0]!;
      this.hi = out[1]!;
    }
    return this;
  }
}
