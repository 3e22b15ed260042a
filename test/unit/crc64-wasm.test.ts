import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Crc64 } from '../../src/lib/crc64';
import { WasmCrc64 } from '../../src/lib/crc64-fast';
import { CRC64_WASM_BASE64 } from '../../src/lib/crc64-wasm/bytes';
import { prng, randomBytes } from '../helpers/prng';

const root = path.resolve(__dirname, '..', '..', '..');
/** The module's input area (crc64.c INPUT_BYTES): longer updates go through it in slices. */
const INPUT_BYTES = 1 << 17;
const js = (buf: Uint8Array) => new Crc64().update(buf).hex();

for (const streams of [1, 3] as const) {
  describe(`crc64 in WebAssembly, ${streams} stream${streams > 1 ? 's' : ''}, against the JavaScript reference`, () => {
    it('gives the published check value for "123456789" and 0 for no input', () => {
      assert.equal(new WasmCrc64(streams).update(Buffer.from('123456789', 'ascii')).value(), 0xe9c6d914c4b8d9can);
      assert.equal(new WasmCrc64(streams).update(new Uint8Array(0)).hex(), '0000000000000000');
    });

    it('agrees on every length 0..2100 and on lengths around the slice and stream boundaries', () => {
      const data = randomBytes(3 * INPUT_BYTES + 100, 11);
      const lengths = [...Array(2101).keys()];
      // Three streams start at 768 bytes (three 256-byte thirds); the input area slices at INPUT_BYTES.
      for (const edge of [767, 768, 769, 4096, INPUT_BYTES, 2 * INPUT_BYTES, 3 * INPUT_BYTES]) lengths.push(edge - 17, edge - 1, edge, edge + 1, edge + 15);
      for (const n of lengths) {
        const slice = data.subarray(0, n);
        assert.equal(new WasmCrc64(streams).update(slice).hex(), js(slice), `length ${n}`);
      }
    });

    it('agrees however random data is split into incremental updates, from any byte offset', () => {
      const next = prng(12 + streams);
      for (let round = 0; round < 20; round++) {
        const data = randomBytes(1 + (next() % (INPUT_BYTES + 50_000)), 100 + round);
        const c = new WasmCrc64(streams);
        for (let i = 0; i < data.length; ) {
          const n = next() % 3 === 0 ? next() % 70_000 : next() % 40;
          c.update(data.subarray(i, i + n));
          i += n;
        }
        assert.equal(c.hex(), js(data), `round ${round}, ${data.length} bytes`);
      }
      const backing = randomBytes(5000, 13);
      const view = new Uint8Array(backing.buffer, 7, 4000);
      assert.equal(new WasmCrc64(streams).update(view).hex(), js(view));
    });

    it('keeps separate instances separate (the module is shared, the state is not)', () => {
      const a = randomBytes(3000, 14);
      const b = randomBytes(3000, 15);
      const ca = new WasmCrc64(streams);
      const cb = new WasmCrc64(streams);
      for (let i = 0; i < 3000; i += 1000) {
        ca.update(a.subarray(i, i + 1000));
        cb.update(b.subarray(i, i + 1000));
      }
      assert.equal(ca.hex(), js(a));
      assert.equal(cb.hex(), js(b));
      assert.notEqual(ca.hex(), cb.hex());
    });
  });
}

describe('the committed crc64 WebAssembly module', () => {
  it('is embedded byte for byte in crc64-wasm/bytes.ts (scripts/build-wasm.sh writes both)', () => {
    const wasm = readFileSync(path.join(root, 'src', 'lib', 'crc64-wasm', 'crc64.wasm'));
    assert.equal(wasm.subarray(0, 4).toString('latin1'), '\0asm');
    assert.deepEqual(Buffer.from(CRC64_WASM_BASE64, 'base64'), wasm);
  });
});
