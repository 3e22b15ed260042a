import assert from 'node:assert/strict';
import { Crc64, crc64 } from '../../src/lib/crc64';
import { startRedisServer } from '../helpers/redis-server';
import { prng, randomBytes } from '../helpers/prng';

// Bit-at-a-time reference straight from the definition (reflected Jones polynomial).
function referenceCrc64(buf: Uint8Array): bigint {
  const poly = 0x95ac9329ac4bc9b5n;
  let crc = 0n;
  for (const b of buf) {
    crc ^= BigInt(b);
    for (let i = 0; i < 8; i++) crc = crc & 1n ? (crc >> 1n) ^ poly : crc >> 1n;
  }
  return crc;
}

describe('crc64 (Redis CRC-64/Jones)', () => {
  it('matches the published check value for "123456789"', () => {
    const input = Buffer.from('123456789', 'ascii');
    assert.equal(crc64(input), 0xe9c6d914c4b8d9can);
    assert.equal(new Crc64().update(input).hex(), 'e9c6d914c4b8d9ca');
  });

  it('is 0 for no input and renders 16 zero-padded digits', () => {
    assert.equal(crc64(new Uint8Array(0)), 0n);
    assert.equal(new Crc64().hex(), '0000000000000000');
    const h = new Crc64().update(new Uint8Array([1])).hex();
    assert.match(h, /^[0-9a-f]{16}$/);
    assert.equal(BigInt('0x' + h), crc64(new Uint8Array([1])));
  });

  it('agrees with a bitwise reference for every length 0..300', () => {
    const data = randomBytes(300, 1);
    for (let n = 0; n <= 300; n++) {
      const slice = data.subarray(0, n);
      assert.equal(crc64(slice), referenceCrc64(slice), `length ${n}`);
    }
  });

  it('gives the same value however the input is split', () => {
    const data = randomBytes(100_000, 2);
    const whole = crc64(data);
    const next = prng(3);
    for (let round = 0; round < 5; round++) {
      const c = new Crc64();
      for (let i = 0; i < data.length; ) {
        const n = next() % 4 === 0 ? next() % 5000 : next() % 20;
        c.update(data.subarray(i, i + n));
        i += n;
      }
      assert.equal(c.value(), whole);
    }
    const bytewise = new Crc64();
    for (let i = 0; i < 2000; i++) bytewise.update(data.subarray(i, i + 1));
    assert.equal(bytewise.value(), crc64(data.subarray(0, 2000)));
  });

  it('update() is chainable and works on non-zero byteOffset views', () => {
    const data = randomBytes(1000, 4);
    const view = new Uint8Array(data.buffer, 13, 500);
    const c = new Crc64();
    assert.equal(c.update(view), c);
    assert.equal(c.value(), referenceCrc64(view));
  });

  it('reproduces the checksum redis-server stores in a real RDB', async function () {
    this.timeout(60_000);
    const redis = await startRedisServer();
    try {
      await redis.client().call('DEBUG', 'POPULATE', 2000, 'k', 100);
      const rdb = await redis.save();
      const stored = Buffer.from(rdb.subarray(rdb.length - 8)).readBigUInt64LE();
      assert.notEqual(stored, 0n);
      assert.equal(crc64(rdb.subarray(0, rdb.length - 8)), stored);
    } finally {
      await redis.stop();
    }
  });
});
