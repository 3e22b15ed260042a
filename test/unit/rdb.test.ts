import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type Redis from 'ioredis';
import { crc64 } from '../../src/lib/crc64';
import { RdbError, RdbErrorCode, RdbKey, RdbSummary, RdbVerifier, RdbVerifierOptions } from '../../src/lib/rdb';
import { type RedisServer, startRedisServer } from '../helpers/redis-server';
import { prng } from '../helpers/prng';
import { intset, listpack, rdbEntry, rdbFile, rdbLen, rdbLzf, rdbStr, ziplist, zipmap } from '../helpers/rdb-writer';

/** Runs a program and returns its exit code and combined output. */
function run(cmd: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, output: `${stdout}${stderr}` });
    });
  });
}

type Counts = Record<number, { keys: number; expires: number }>;
type KeyInfo = { type: number; expireAtMs?: number };

interface Expected {
  keyspace: Counts;
  keys: Map<string, KeyInfo>; // `${db}:${hex(key)}`
  values: Map<string, Buffer>; // GET of every string key
  redisVersion: string;
}

interface Fixture {
  rdb: Buffer;
  file: string;
  expected: Expected;
}

function pseudoRandomBytes(n: number, seed: number): Buffer {
  const next = prng(seed);
  const b = Buffer.alloc(n + 3);
  for (let i = 0; i < n; i += 4) b.writeUInt32LE(next(), i);
  return b.subarray(0, n);
}

/** A number is a fixed chunk size. */
type Feed = 'whole' | 'bytes' | 'random' | number;

function chunks(buf: Uint8Array, feed: Feed, seed = 7): Uint8Array[] {
  if (feed === 'whole') return [buf];
  const out: Uint8Array[] = [];
  if (typeof feed === 'number') {
    for (let i = 0; i < buf.length; i += feed) out.push(buf.subarray(i, i + feed));
    return out;
  }
  const next = prng(seed);
  for (let i = 0; i < buf.length; ) {
    // Mostly tiny chunks (to split every kind of atom) with some large ones.
    const r = next();
    const n = feed === 'bytes' ? 1 : r % 3 === 0 ? 1 + (next() % 70_000) : 1 + (next() % 24);
    out.push(buf.subarray(i, i + n));
    i += n;
  }
  return out;
}

function verify(buf: Uint8Array, feed: Feed, opts?: RdbVerifierOptions | ((k: RdbKey) => void)): RdbSummary {
  const v = new RdbVerifier(typeof opts === 'function' ? { onKey: opts } : opts);
  for (const c of chunks(buf, feed)) v.push(c);
  return v.end();
}

const idOf = (k: RdbKey): string => `${k.db}:${Buffer.from(k.key).toString('hex')}`;

/** What onKey should give as value: the GET result if it is a string within the limit. */
function expectedValue(expected: Expected, id: string, max = 65536): Buffer | undefined {
  const v = expected.values.get(id);
  return v && v.length <= max ? v : undefined;
}

function assertValue(k: RdbKey, expected: Expected, max?: number): void {
  const want = expectedValue(expected, idOf(k), max);
  if (want === undefined) assert.equal(k.value, undefined, `no value expected for ${idOf(k)}`);
  else assert.ok(k.value && Buffer.from(k.value).equals(want), `value of ${idOf(k)}`);
}

/** Runs the verifier and returns the error, noting whether push() or end() raised it. */
function failure(parts: Uint8Array[], opts?: { maxVersion?: number }): { err: RdbError; during: 'push' | 'end'; pushes: number } {
  const v = new RdbVerifier(opts);
  let pushes = 0;
  try {
    for (const p of parts) {
      pushes++;
      v.push(p);
    }
  } catch (e) {
    assert.ok(e instanceof RdbError, `expected RdbError, got ${String(e)}`);
    // Errors are sticky: the verifier refuses to go on.
    assert.throws(() => v.end(), (e2: unknown) => e2 === e);
    return { err: e, during: 'push', pushes };
  }
  try {
    v.end();
  } catch (e) {
    assert.ok(e instanceof RdbError, `expected RdbError, got ${String(e)}`);
    return { err: e, during: 'end', pushes };
  }
  assert.fail('expected the verifier to reject the stream');
}

// Which RDB type redis-server 7.x writes for each TYPE/OBJECT ENCODING pair.
function expectedRdbType(type: string, encoding: string, rdbVersion: number): number {
  const table: Record<string, number> = {
    'string/int': 0,
    'string/embstr': 0,
    'string/raw': 0,
    'list/quicklist': 18,
    'list/listpack': 18,
    'set/intset': 11,
    'set/hashtable': 2,
    'set/listpack': 20,
    'zset/listpack': 17,
    'zset/skiplist': 5,
    'hash/listpack': 16,
    'hash/hashtable': 4,
    'stream/stream': rdbVersion >= 11 ? 21 : 19,
  };
  const t = table[`${type}/${encoding}`];
  assert.notEqual(t, undefined, `no RDB type known for ${type}/${encoding}`);
  return t;
}

async function keyspace(c: Redis): Promise<Counts> {
  const info = await c.info('keyspace');
  const out: Counts = {};
  for (const m of info.matchAll(/^db(\d+):keys=(\d+),expires=(\d+)/gm)) {
    out[Number(m[1])] = { keys: Number(m[2]), expires: Number(m[3]) };
  }
  return out;
}

/** Snapshot of what redis says is in the dataset, taken just before SAVE. */
async function describeDataset(c: Redis, rdbVersion: number): Promise<Expected> {
  const ks = await keyspace(c);
  const keys = new Map<string, KeyInfo>();
  const values = new Map<string, Buffer>();
  for (const db of Object.keys(ks).map(Number)) {
    await c.select(db);
    const names = await c.keysBuffer('*');
    for (let i = 0; i < names.length; i += 500) {
      const batch = names.slice(i, i + 500);
      // Pipelined: replies come back in order.
      const infos = await Promise.all(
        batch.map((k) => Promise.all([c.type(k), c.call('OBJECT', 'ENCODING', k) as Promise<string>, c.call('PEXPIRETIME', k)])),
      );
      const strings = batch.filter((_, j) => infos[j][0] === 'string');
      const got = await Promise.all(strings.map((k) => c.getBuffer(k)));
      strings.forEach((k, j) => values.set(`${db}:${k.toString('hex')}`, got[j]!));
      batch.forEach((k, j) => {
        const [type, enc, exp] = infos[j];
        const info: KeyInfo = { type: expectedRdbType(type, enc, rdbVersion) };
        if ((exp as number) >= 0) info.expireAtMs = exp as number;
        keys.set(`${db}:${k.toString('hex')}`, info);
      });
    }
  }
  await c.select(0);
  const server = await c.info('server');
  const redisVersion = /redis_version:([^\r\n]+)/.exec(server)![1];
  return { keyspace: ks, keys, values, redisVersion };
}

async function setConfig(c: Redis, cfg: Record<string, string>): Promise<void> {
  for (const [k, v] of Object.entries(cfg)) await c.config('SET', k, v);
}

const FUNCTION_LIBRARY = "#!lua name=lib\nredis.register_function('f', function() return 1 end)";
const LZF_KEY = 'k'.repeat(300);
const BINARY_KEY = Buffer.from([0, 1, 2, 0xff, 0xfe, 0x0d, 0x0a]);

/** Every data type in both its compact and its big encoding, over dbs 0, 1 and 7. */
async function populateAllTypes(c: Redis): Promise<void> {
  await c.call('FLUSHALL');
  await c.call('FUNCTION', 'FLUSH');
  // Low thresholds so a handful of elements flips each type to its big encoding.
  await setConfig(c, {
    'list-max-listpack-size': '4',
    'hash-max-listpack-entries': '8',
    'hash-max-listpack-value': '64',
    'set-max-intset-entries': '8',
    'zset-max-listpack-entries': '8',
    'zset-max-listpack-value': '64',
    'stream-node-max-entries': '4',
  });
  // List elements of 1000+ bytes become PLAIN quicklist nodes (container 1).
  await c.call('DEBUG', 'QUICKLIST-PACKED-THRESHOLD', '1000');

  await c.select(0);
  // Strings: raw, int-encoded (int8/16/32), too big for int32, empty, LZF-friendly, 5 MiB.
  await c.call('SET', 'str:plain', 'hello world');
  await c.call('SET', 'str:int8', '42');
  await c.call('SET', 'str:int16', '-1234');
  await c.call('SET', 'str:int32', '123456789');
  await c.call('SET', 'str:int64', '12345678901234');
  await c.call('SET', 'str:empty', '');
  await c.call('SET', 'str:lzf', 'abc'.repeat(20_000));
  await c.call('SET', 'str:big', pseudoRandomBytes(5 << 20, 42));
  // Key names that are themselves int-encoded, LZF-compressed, binary.
  await c.call('SET', '12345', 'int-encoded key name');
  await c.call('SET', LZF_KEY, 'lzf-compressed key name');
  await c.call('SET', BINARY_KEY, 'binary key name');

  // Lists: one packed node, many packed nodes, plain nodes.
  await c.call('RPUSH', 'list:small', 'a', 'b', 'c');
  await c.call('RPUSH', 'list:big', ...Array.from({ length: 50 }, (_, i) => `item-${i}`));
  await c.call('RPUSH', 'list:plain', 'small1', 'P'.repeat(2000), 'small2', 'Q'.repeat(3000));
  await c.call('RPUSH', 'list:ints', 1, 2, 3, -70000);

  // Sets: intset, hashtable of ints, hashtable of strings.
  await c.call('SADD', 'set:intset', 1, 2, 3, -5, 100000);
  await c.call('SADD', 'set:bigints', ...Array.from({ length: 20 }, (_, i) => i));
  await c.call('SADD', 'set:strings', 'a', 'b', 'c'); // listpack from 7.2 on, hashtable before
  await c.call('SADD', 'set:manystrings', ...Array.from({ length: 200 }, (_, i) => `s${i}`));

  // Sorted sets: listpack and skiplist (by count and by member size), odd scores.
  await c.call('ZADD', 'zset:small', 1, 'a', 2.5, 'b', '-inf', 'c');
  await c.call('ZADD', 'zset:big', ...Array.from({ length: 20 }, (_, i) => [i * 1.5, `m-${i}`]).flat(), 'inf', 'top');
  await c.call('ZADD', 'zset:longmember', 1, 'm'.repeat(100));

  // Hashes: listpack and hashtable (by count and by value size).
  await c.call('HSET', 'hash:small', 'f1', 'v1', 'f2', '2', 'f3', 'v3');
  await c.call('HSET', 'hash:big', ...Array.from({ length: 20 }, (_, i) => [`f${i}`, `v${i}`]).flat());
  await c.call('HSET', 'hash:longvalue', 'f', 'v'.repeat(100));

  // Streams: several listpacks, deleted entries, groups, consumers, pending entries.
  for (let i = 1; i <= 10; i++) await c.call('XADD', 'stream:s', `${i}-0`, 'field', i, 'name', `n${i}`);
  await c.call('XDEL', 'stream:s', '2-0', '5-0');
  await c.call('XGROUP', 'CREATE', 'stream:s', 'g1', '0');
  await c.call('XREADGROUP', 'GROUP', 'g1', 'alice', 'COUNT', 3, 'STREAMS', 'stream:s', '>');
  await c.call('XREADGROUP', 'GROUP', 'g1', 'bob', 'COUNT', 2, 'STREAMS', 'stream:s', '>');
  await c.call('XACK', 'stream:s', 'g1', '1-0');
  await c.call('XGROUP', 'CREATE', 'stream:s', 'g2', '$');
  await c.call('XGROUP', 'CREATECONSUMER', 'stream:s', 'g2', 'carol');
  await c.call('XGROUP', 'CREATE', 'stream:empty', 'g0', '$', 'MKSTREAM');
  // Ids beyond 2^53 exercise 64-bit lengths.
  await c.call('XADD', 'stream:maxid', '18446744073709551615-18446744073709551615', 'f', 'v');

  await c.call('EXPIRE', 'str:plain', 3600);
  await c.call('PEXPIRE', 'list:small', 7_200_000);
  await c.call('EXPIRE', 'hash:big', 100_000);
  await c.call('EXPIRE', 'stream:s', 50_000);
  await c.call('EXPIRE', 'str:big', 86_400);
  await c.call('EXPIRE', LZF_KEY, 86_400);

  await c.select(1);
  await c.call('SET', 'a', '1', 'EX', 1000);
  await c.call('SET', 'b', '2');
  await c.call('HSET', 'h', 'f', 'v');
  await c.call('PEXPIRE', 'h', 500_000);
  await c.call('RPUSH', 'l', 'x');

  await c.select(7);
  await c.call('SET', 'x', 'y');
  await c.call('SADD', 's', 'm1', 'm2');
  await c.call('EXPIREAT', 's', Math.floor(Date.now() / 1000) + 86_400);
  await c.call('ZADD', 'z', 1, 'a');

  await c.select(0);
  await c.call('FUNCTION', 'LOAD', FUNCTION_LIBRARY);
}

async function populateSmallKeys(c: Redis): Promise<void> {
  await c.call('FLUSHALL');
  await c.call('FUNCTION', 'FLUSH');
  await c.call('DEBUG', 'POPULATE', 20_000, 'key', 8);
  await Promise.all(Array.from({ length: 1000 }, (_, i) => c.call('PEXPIRE', `key:${i * 7}`, 1_000_000 + i)));
  await c.select(2);
  await c.call('DEBUG', 'POPULATE', 500, 'other', 3);
  await c.select(0);
}

/** String values in each encoding redis writes them in, and around the default maxValueBytes. */
const STRING_VALUES: Record<string, string | Buffer> = {
  raw: 'hello world',
  'int 12345': '12345', // int16
  'int -7': '-7', // int8
  'int32 min': '-2147483648',
  'int64 (stored raw)': '12345678901234',
  empty: '',
  lzf: 'abc'.repeat(1000),
  'lzf 21 bytes': 'z'.repeat(21), // redis tries LZF above 20 bytes
  'lzf binary': Buffer.concat(Array.from({ length: 20 }, () => Buffer.from(Array.from({ length: 256 }, (_, i) => i)))),
  binary: Buffer.from([0, 1, 2, 0xff, 0xfe, 0x0d, 0x0a, 0x80, 0xc3, 0x40]),
  'binary 300': pseudoRandomBytes(300, 5),
  '65536 bytes': pseudoRandomBytes(65536, 6),
  '65537 bytes': pseudoRandomBytes(65537, 7),
  'lzf 120000 bytes': 'xyz'.repeat(40_000), // small in the file, too long decoded
};
const valueKey = (name: string): string => `sv:${name}`;

async function populateStringValues(c: Redis): Promise<void> {
  await c.call('FLUSHALL');
  await c.call('FUNCTION', 'FLUSH');
  await c.select(0);
  for (const [name, v] of Object.entries(STRING_VALUES)) await c.call('SET', valueKey(name), v);
  await c.call('PEXPIRE', valueKey('raw'), 3_600_000);
  await c.call('PEXPIRE', valueKey('lzf'), 7_200_123);
  await c.call('EXPIRE', valueKey('int -7'), 500);
  await c.call('PEXPIRE', valueKey('65537 bytes'), 9_000_000);
  // Other types next to strings, in another db.
  await c.select(3);
  await c.call('SET', 'x', 'in db 3', 'PX', 1_234_567);
  await c.call('RPUSH', 't:list', 'a', 'b', 'c');
  await c.call('HSET', 't:hash', 'f', 'v');
  await c.call('HSET', 't:bighash', ...Array.from({ length: 20 }, (_, i) => [`f${i}`, `v${i}`]).flat());
  await c.call('SADD', 't:set', 'a', 'b');
  await c.call('SADD', 't:intset', 1, 2, 3);
  await c.call('ZADD', 't:zset', 1, 'a', 2, 'b');
  await c.call('ZADD', 't:bigzset', ...Array.from({ length: 20 }, (_, i) => [i, `m${i}`]).flat());
  await c.call('XADD', 't:stream', '1-0', 'f', 'v');
  await c.call('PEXPIRE', 't:hash', 4_000_000);
  await c.call('EXPIREAT', 't:stream', Math.floor(Date.now() / 1000) + 86_400);
  await c.select(0);
}

function rdbVersionOf(rdb: Buffer): number {
  return Number(rdb.toString('latin1', 5, 9));
}

/**
 * Inserts raw entry bytes just before the EOF opcode of a real RDB and re-seals it with a
 * fresh checksum: the only way to get value types redis 7.0 cannot write.
 */
function spliceBeforeEof(rdb: Buffer, entry: Buffer, version?: string): Buffer {
  assert.equal(rdb[rdb.length - 9], 0xff);
  const body = Buffer.concat([rdb.subarray(0, rdb.length - 9), entry, Buffer.from([0xff])]);
  if (version) body.write(version, 5, 'latin1');
  const sum = Buffer.alloc(8);
  sum.writeBigUInt64LE(crc64(body));
  return Buffer.concat([body, sum]);
}

function storedChecksumHex(rdb: Buffer): string {
  return rdb.readBigUInt64LE(rdb.length - 8).toString(16).padStart(16, '0');
}

describe('RdbVerifier on real redis-server dumps', function () {
  this.timeout(120_000);

  let redis: RedisServer | undefined;
  let noChecksum: RedisServer | undefined;
  const fixtures: Record<string, Fixture> = {};

  async function capture(name: string, r: RedisServer, populate?: (c: Redis) => Promise<unknown>): Promise<void> {
    const c = r.client();
    if (populate) await populate(c);
    const rdb = await r.save();
    // The version redis wrote is needed to map streams to their RDB type.
    const expected = await describeDataset(c, rdbVersionOf(rdb));
    const file = join(r.dir, `${name.replace(/\W+/g, '_')}.rdb`);
    writeFileSync(file, rdb);
    fixtures[name] = { rdb, file, expected };
  }

  before(async () => {
    redis = await startRedisServer();
    await capture('all types, rdbcompression yes', redis, populateAllTypes);
    // An LFU/LRU eviction policy makes SAVE write a FREQ/IDLE opcode before every key.
    await capture('all types, rdbcompression no, LFU policy (FREQ opcodes)', redis, (c) =>
      setConfig(c, { rdbcompression: 'no', 'maxmemory-policy': 'allkeys-lfu' }),
    );
    await setConfig(redis.client(), { rdbcompression: 'yes', 'maxmemory-policy': 'noeviction' });
    await capture('many small keys', redis, populateSmallKeys);
    await capture('string values', redis, populateStringValues);
    await capture('empty dataset', redis, async (c) => {
      await c.call('FLUSHALL');
      await c.call('FUNCTION', 'FLUSH');
    });
    // rdbchecksum cannot be changed at runtime.
    noChecksum = await startRedisServer(['--rdbchecksum', 'no', '--maxmemory-policy', 'allkeys-lru']);
    await capture('all types, rdbchecksum no, LRU policy (IDLE opcodes)', noChecksum, populateAllTypes);
  });

  after(async () => {
    await redis?.stop();
    await noChecksum?.stop();
  });

  const names = [
    'all types, rdbcompression yes',
    'all types, rdbcompression no, LFU policy (FREQ opcodes)',
    'all types, rdbchecksum no, LRU policy (IDLE opcodes)',
    'many small keys',
    'string values',
    'empty dataset',
  ];

  for (const name of names) {
    describe(name, () => {
      it('is accepted by redis-check-rdb (the fixture is a real RDB)', async () => {
        const { code, output } = await run('redis-check-rdb', [fixtures[name].file]);
        assert.equal(code, 0, output);
        assert.match(output, /RDB looks OK/);
      });

      for (const feed of ['whole', 'bytes', 'random'] as const) {
        it(`matches INFO keyspace and sees every key (${feed === 'bytes' ? '1-byte' : feed} chunks)`, () => {
          const { rdb, expected } = fixtures[name];
          const seen = new Map<string, KeyInfo>();
          const summary = verify(rdb, feed, (k) => {
            const id = idOf(k);
            assert.ok(!seen.has(id), `key ${id} reported twice`);
            const info: KeyInfo = { type: k.type };
            if (k.expireAtMs !== undefined) info.expireAtMs = k.expireAtMs;
            seen.set(id, info);
            assertValue(k, expected);
          });
          assert.deepEqual(summary.keyCounts, expected.keyspace);
          assert.deepEqual(summary.resizeHints, expected.keyspace);
          assert.deepEqual(seen, expected.keys);
          assert.equal(summary.structure, 'parsed');
          assert.equal(summary.bytes, rdb.length);
          assert.equal(summary.rdbVersion, rdbVersionOf(rdb));
          assert.equal(summary.aux['redis-ver'], expected.redisVersion);
          assert.equal(summary.aux['redis-bits'], '64');
          assert.match(summary.aux['ctime'], /^\d+$/);
          assert.match(summary.aux['used-mem'], /^\d+$/);
          assert.equal(summary.aux['aof-base'], '0');
          if (name.includes('rdbchecksum no')) {
            assert.equal(storedChecksumHex(rdb), '0000000000000000');
            assert.equal(summary.checksum, 'disabled');
            assert.match(summary.crc64, /^[0-9a-f]{16}$/);
            assert.notEqual(summary.crc64, '0000000000000000');
          } else {
            assert.equal(summary.checksum, 'ok');
            assert.equal(summary.crc64, storedChecksumHex(rdb));
          }
        });
      }

      it('gives the same summary without onKey (keys skipped, not captured)', () => {
        const { rdb } = fixtures[name];
        assert.deepEqual(verify(rdb, 'random'), verify(rdb, 'whole', () => undefined));
      });
    });
  }

  describe('fixture coverage', () => {
    it('covers every encoding redis writes, including functions and LZF', () => {
      const { expected, rdb } = fixtures['all types, rdbcompression yes'];
      const types = new Set([...expected.keys.values()].map((k) => k.type));
      // RDB 11 (redis 7.2) added listpack sets and stream v3.
      const v11 = rdbVersionOf(rdb) >= 11;
      for (const t of [0, 2, 4, 5, 11, 16, 17, 18, ...(v11 ? [20, 21] : [19])]) assert.ok(types.has(t), `type ${t}`);
      assert.deepEqual(Object.keys(expected.keyspace), ['0', '1', '7']);
      for (const db of [0, 1, 7]) assert.ok(expected.keyspace[db].expires > 0, `expires in db ${db}`);
      assert.ok(rdb.includes(Buffer.from("redis.register_function('f'")), 'function library present');
      assert.ok(expected.keys.has(`0:${Buffer.from(LZF_KEY).toString('hex')}`));
      // LZF really kicked in: the compressible value and key shrink the file.
      assert.ok(rdb.length + 50_000 < fixtures['all types, rdbcompression no, LFU policy (FREQ opcodes)'].rdb.length);
    });

    it('an empty dataset has no databases', () => {
      const s = verify(fixtures['empty dataset'].rdb, 'whole');
      assert.deepEqual(s.keyCounts, {});
      assert.equal(s.checksum, 'ok');
    });
  });

  describe('picking keys, string values and expire times', () => {
    const FEEDS: Feed[] = [1, 7, 4096, 'whole'];
    const feedName = (f: Feed): string => (typeof f === 'number' ? `${f}-byte chunks` : f);
    const svId = (name: string): string => `0:${Buffer.from(valueKey(name)).toString('hex')}`;

    it('the string-values fixture has int, LZF, raw and binary encodings', () => {
      const { rdb } = fixtures['string values'];
      // The byte after a key name starts the value: 0xc0..0xc2 ints, 0xc3 LZF, else a length.
      const first = (name: string): number => {
        const k = Buffer.from(valueKey(name));
        const at = rdb.indexOf(Buffer.concat([Buffer.from([k.length]), k]));
        assert.ok(at > 0, name);
        return rdb[at + 1 + k.length];
      };
      assert.equal(first('int -7'), 0xc0);
      assert.equal(first('int 12345'), 0xc1);
      assert.equal(first('int32 min'), 0xc2);
      for (const n of ['lzf', 'lzf 21 bytes', 'lzf binary', 'lzf 120000 bytes']) assert.equal(first(n), 0xc3, n);
      for (const n of ['raw', 'int64 (stored raw)', 'binary', 'empty']) assert.equal(first(n), Buffer.byteLength(STRING_VALUES[n]), n);
      assert.equal(first('binary 300') >> 6, 1, 'incompressible: raw with a 14-bit length');
      assert.equal(first('65537 bytes'), 0x80, 'raw with a 32-bit length');
    });

    for (const feed of FEEDS) {
      it(`string values come out byte-exact through pickKey and onKey (${feedName(feed)})`, () => {
        const { rdb, expected } = fixtures['string values'];
        const got = new Map<string, RdbKey>();
        verify(rdb, feed, { pickKey: () => true, onKey: (k) => got.set(idOf(k), k) });
        assert.deepEqual(new Set(got.keys()), new Set(expected.keys.keys()));
        for (const [name, v] of Object.entries(STRING_VALUES)) {
          const k = got.get(svId(name))!;
          assert.equal(k.type, 0);
          const want = Buffer.from(v);
          if (want.length > 65536) assert.equal(k.value, undefined, name);
          else assert.ok(k.value && Buffer.from(k.value).equals(want), `${name}: got ${k.value && Buffer.from(k.value).toString('hex', 0, 32)}`);
        }
        for (const k of got.values()) assertValue(k, expected);
      });
    }

    it('a value longer than maxValueBytes is left out, with its key still reported', () => {
      const { rdb, expected } = fixtures['string values'];
      for (const max of [undefined, 0, 5, 11, 65537]) {
        for (const feed of [1, 'whole'] as Feed[]) {
          const got = new Map<string, RdbKey>();
          verify(rdb, feed, { onKey: (k) => got.set(idOf(k), k), maxValueBytes: max });
          assert.deepEqual(new Set(got.keys()), new Set(expected.keys.keys()));
          for (const k of got.values()) assertValue(k, expected, max);
          const has = (name: string): boolean => got.get(svId(name))!.value !== undefined;
          // Decoded length counts: "-2147483648" is 4 bytes in the file, 11 as text.
          assert.equal(has('int32 min'), (max ?? 65536) >= 11, `max ${max}`);
          assert.equal(has('lzf 120000 bytes'), false);
          assert.equal(has('empty'), true);
        }
      }
    });

    for (const name of ['many small keys', 'all types, rdbcompression yes', 'string values']) {
      it(`pickKey true on every 3rd call gives onKey exactly those keys (${name})`, () => {
        const { rdb, expected } = fixtures[name];
        // File order, from onKey alone (checked against redis above).
        const order: string[] = [];
        const plain = verify(rdb, 'whole', (k) => order.push(idOf(k)));
        assert.deepEqual(new Set(order), new Set(expected.keys.keys()));
        for (const feed of FEEDS) {
          let calls = 0;
          const picked: string[] = [];
          const s = verify(rdb, feed, {
            pickKey: () => ++calls % 3 === 0,
            onKey: (k) => {
              picked.push(idOf(k));
              const info = expected.keys.get(idOf(k))!;
              assert.equal(k.type, info.type);
              assert.equal(k.expireAtMs, info.expireAtMs);
              assertValue(k, expected);
            },
          });
          assert.equal(calls, order.length, 'pickKey is called once per key');
          assert.deepEqual(picked, order.filter((_, i) => i % 3 === 2), feedName(feed));
          assert.deepEqual(s, plain);
        }
      });
    }

    for (const name of ['all types, rdbcompression yes', 'all types, rdbchecksum no, LRU policy (IDLE opcodes)', 'many small keys', 'string values']) {
      it(`onExpire gives every key with a TTL its PEXPIRETIME, per db, picked or not (${name})`, () => {
        const { rdb, expected } = fixtures[name];
        const want: Record<number, number[]> = {};
        for (const [id, info] of expected.keys) {
          if (info.expireAtMs !== undefined) (want[Number(id.split(':')[0])] ??= []).push(info.expireAtMs);
        }
        for (const [db, c] of Object.entries(expected.keyspace)) assert.equal(want[Number(db)]?.length ?? 0, c.expires);
        assert.ok(Object.keys(want).length > 0);
        // 1-byte chunks only where cheap: the expire opcodes are the same everywhere.
        for (const feed of (rdb.length < 1 << 20 ? [1, 7, 'whole'] : [7, 'whole']) as Feed[]) {
          let n = 0;
          for (const opts of [{}, { pickKey: () => ++n % 3 === 0, onKey: () => undefined }]) {
            const got: Record<number, number[]> = {};
            verify(rdb, feed, { ...opts, onExpire: (db, at) => (got[db] ??= []).push(at) });
            for (const db of Object.keys(want).map(Number)) {
              got[db]?.sort((a, b) => a - b);
              want[db].sort((a, b) => a - b);
            }
            assert.deepEqual(got, want, feedName(feed));
          }
        }
      });
    }

    it('picked keys of other types have their type code and no value', () => {
      for (const name of ['all types, rdbcompression yes', 'string values']) {
        const { rdb, expected } = fixtures[name];
        const v11 = rdbVersionOf(rdb) >= 11;
        const types = new Set<number>();
        verify(rdb, 7, {
          pickKey: () => true,
          onKey: (k) => {
            assert.equal(k.type, expected.keys.get(idOf(k))!.type);
            if (k.type === 0) return;
            assert.ok(!('value' in k), `type ${k.type} has no value`);
            types.add(k.type);
          },
        });
        // list; set, zset and hash in compact and big encodings; stream.
        for (const t of [18, 11, v11 ? 20 : 2, 17, 5, 16, 4, v11 ? 21 : 19]) assert.ok(types.has(t), `${name}: type ${t}`);
      }
    });

    it('counts, hints, aux and checksum are unchanged by the options', () => {
      for (const name of names) {
        const { rdb } = fixtures[name];
        const plain = verify(rdb, 'whole');
        let n = 0;
        const optionSets: RdbVerifierOptions[] = [
          { pickKey: () => ++n % 3 === 0, onKey: () => undefined, onExpire: () => undefined, maxValueBytes: 10 },
          { onKey: () => undefined, maxValueBytes: 8 << 20 },
          { pickKey: () => false, onKey: () => assert.fail('not picked') },
          { onExpire: () => undefined },
        ];
        for (const opts of optionSets) {
          for (const feed of [7, 4096, 'random', 'whole'] as Feed[]) assert.deepEqual(verify(rdb, feed, opts), plain, `${name}, ${feedName(feed)}`);
        }
      }
    });

    it('captured names and values are copies: the caller may reuse its chunk buffer', () => {
      const { rdb, expected } = fixtures['string values'];
      for (const size of [7, 4096, rdb.length]) {
        const scratch = Buffer.alloc(size);
        const got: RdbKey[] = [];
        const v = new RdbVerifier({ onKey: (k) => got.push(k) });
        for (let i = 0; i < rdb.length; i += size) {
          const n = rdb.copy(scratch, 0, i, i + size);
          v.push(scratch.subarray(0, n));
          scratch.fill(0xee);
        }
        v.end();
        assert.deepEqual(new Set(got.map(idOf)), new Set(expected.keys.keys()));
        for (const k of got) assertValue(k, expected);
      }
    });

    it('pickKey without onKey is refused', () => {
      assert.throws(() => new RdbVerifier({ pickKey: () => true }), TypeError);
    });
  });

  describe('values that cannot be walked', () => {
    // A pre-GA module value (type 6) has no self-describing layout: an opaque blob here.
    const moduleEntry = Buffer.concat([Buffer.from([0x06, 0x03]), Buffer.from('mod'), pseudoRandomBytes(300, 9)]);

    it('a module value stops structural parsing; checksum and framing are still verified', () => {
      const rdb = spliceBeforeEof(fixtures['many small keys'].rdb, moduleEntry);
      for (const feed of ['whole', 'bytes', 'random'] as const) {
        let keys = 0;
        const s = verify(rdb, feed, () => keys++);
        assert.equal(keys, 20_500, 'keys before the module value are still reported');
        assert.equal(s.keyCounts, undefined);
        assert.ok(typeof s.structure === 'object' && /module/.test(s.structure.skipped), JSON.stringify(s.structure));
        assert.equal(s.checksum, 'ok');
        assert.equal(s.crc64, storedChecksumHex(rdb));
        assert.equal(s.bytes, rdb.length);
      }
    });

    it('with structure skipped, damage is still caught', () => {
      const rdb = spliceBeforeEof(fixtures['many small keys'].rdb, moduleEntry);
      const flipped = Buffer.from(rdb);
      flipped[rdb.length - 100] ^= 1;
      assert.equal(failure([flipped]).err.code, 'BAD_CHECKSUM');
      let cut = rdb.length - 20;
      while (rdb[cut - 9] === 0xff) cut--;
      assert.equal(failure(chunks(rdb.subarray(0, cut), 'random')).err.code, 'TRUNCATED');
    });

    it('an unknown type in a newer RDB version is skipped only when that version is allowed', () => {
      const entry = Buffer.concat([Buffer.from([30, 0x01]), Buffer.from('k'), pseudoRandomBytes(50, 3)]);
      const rdb = spliceBeforeEof(fixtures['empty dataset'].rdb, entry, '0013');
      assert.equal(failure([rdb]).err.code, 'UNSUPPORTED_VERSION');
      const v = new RdbVerifier({ maxVersion: 13 });
      v.push(rdb);
      const s = v.end();
      assert.equal(s.rdbVersion, 13);
      assert.ok(typeof s.structure === 'object' && /unknown value type 30/.test(s.structure.skipped));
      // In a version whose types are all known, the same byte is corruption.
      const known = spliceBeforeEof(fixtures['empty dataset'].rdb, entry);
      assert.equal(failure([known]).err.code, 'CORRUPT');
    });
  });

  describe('corruption on a real file', () => {
    const good = (): Buffer => fixtures['all types, rdbcompression yes'].rdb;
    const small = (): Buffer => fixtures['many small keys'].rdb;

    function assertCode(r: { err: RdbError }, codes: RdbErrorCode[]): void {
      assert.ok(codes.includes(r.err.code), `got ${r.err.code}: ${r.err.message}`);
    }

    it('one flipped byte in the middle → BAD_CHECKSUM (or CORRUPT)', () => {
      for (const rdb of [good(), small()]) {
        for (const feed of ['whole', 'random'] as const) {
          const bad = Buffer.from(rdb);
          bad[bad.length >> 1] ^= 0x5a;
          assertCode(failure(chunks(bad, feed)), ['BAD_CHECKSUM', 'CORRUPT']);
        }
      }
    });

    it('a damaged stored checksum → BAD_CHECKSUM from push(), naming both values', () => {
      const bad = Buffer.from(good());
      bad[bad.length - 3] ^= 1;
      const r = failure([bad]);
      assert.equal(r.err.code, 'BAD_CHECKSUM');
      assert.equal(r.during, 'push');
      assert.ok(r.err.message.includes(storedChecksumHex(bad)), r.err.message);
      assert.ok(r.err.message.includes(storedChecksumHex(good())), r.err.message);
    });

    it('truncated streams → TRUNCATED at end()', () => {
      const rdb = good();
      // Cut points: mid-file (inside the 5 MiB value), mid-header, right after the EOF
      // opcode, one byte short. The mid-file cut avoids looking like EOF + checksum.
      let mid = rdb.length >> 1;
      while (rdb[mid - 9] === 0xff) mid--;
      for (const cut of [mid, 5, 9, 10, rdb.length - 8, rdb.length - 1]) {
        for (const feed of ['whole', 'random'] as const) {
          const r = failure(chunks(rdb.subarray(0, cut), feed));
          assert.equal(r.err.code, 'TRUNCATED', `cut at ${cut}: ${r.err.message}`);
          assert.equal(r.during, 'end');
        }
      }
      for (let cut = 200; cut < small().length; cut += 9973) {
        let at = cut;
        while (small()[at - 9] === 0xff) at--;
        assertCode(failure(chunks(small().subarray(0, at), 'random')), ['TRUNCATED']);
      }
    });

    it('zero bytes → EMPTY', () => {
      assert.equal(failure([]).err.code, 'EMPTY');
      assert.equal(failure([new Uint8Array(0)]).err.code, 'EMPTY');
    });

    it('wrong magic → BAD_MAGIC on the first push that shows it', () => {
      const bad = Buffer.from(good());
      bad.write('RODIS', 0, 'latin1');
      let r = failure([bad]);
      assert.equal(r.err.code, 'BAD_MAGIC');
      assert.equal(r.during, 'push');
      r = failure(chunks(bad.subarray(0, 64), 'bytes'));
      assert.equal(r.err.code, 'BAD_MAGIC');
      assert.equal(r.pushes, 2, 'refused on the second byte');
      r = failure([Buffer.from('-ERR unknown command\r\n')]);
      assert.equal(r.err.code, 'BAD_MAGIC');
      r = failure([Buffer.from('REDIS00x1')]);
      assert.equal(r.err.code, 'BAD_MAGIC');
    });

    it('version 0099 → UNSUPPORTED_VERSION naming both versions', () => {
      const bad = Buffer.from(good());
      bad.write('0099', 5, 'latin1');
      const r = failure([bad]);
      assert.equal(r.err.code, 'UNSUPPORTED_VERSION');
      assert.equal(r.during, 'push');
      assert.match(r.err.message, /\b99\b/);
      assert.match(r.err.message, /\b12\b/);
      const bytes = failure(chunks(bad.subarray(0, 64), 'bytes'));
      assert.equal(bytes.err.code, 'UNSUPPORTED_VERSION');
      assert.equal(bytes.pushes, 9, 'refused as soon as the header is complete');
      const v = rdbVersionOf(good());
      const strict = failure([good()], { maxVersion: v - 1 });
      assert.equal(strict.err.code, 'UNSUPPORTED_VERSION');
      assert.match(strict.err.message, new RegExp(`\\b${v}\\b`));
      assert.match(strict.err.message, new RegExp(`\\b${v - 1}\\b`));
    });

    it('bytes after the checksum → TRAILING_DATA from push()', () => {
      const rdb = good();
      const extra = Buffer.from('*1\r\n$4\r\nPING\r\n');
      let r = failure([Buffer.concat([rdb, extra])]);
      assert.equal(r.err.code, 'TRAILING_DATA');
      assert.equal(r.during, 'push');
      r = failure([rdb, extra.subarray(0, 1)]);
      assert.equal(r.err.code, 'TRAILING_DATA');
      assert.equal(r.pushes, 2);
      r = failure(chunks(Buffer.concat([rdb, extra]), 'random'));
      assert.equal(r.err.code, 'TRAILING_DATA');
    });

    it('push() after end() is a programming error; end() is idempotent', () => {
      const v = new RdbVerifier();
      v.push(fixtures['empty dataset'].rdb);
      const s = v.end();
      assert.equal(v.end(), s);
      assert.throws(() => v.push(new Uint8Array(1)), /after end/);
    });

    it('an unknown opcode → CORRUPT as soon as it arrives', () => {
      // Replace the EOF opcode of the empty dataset (header, aux fields, EOF, checksum).
      const rdb = Buffer.from(fixtures['empty dataset'].rdb);
      assert.equal(rdb[rdb.length - 9], 0xff);
      rdb[rdb.length - 9] = 0x08; // no RDB type 8 exists
      const r = failure([rdb.subarray(0, rdb.length - 8), rdb.subarray(rdb.length - 8)]);
      assert.equal(r.err.code, 'CORRUPT');
      assert.equal(r.pushes, 1);
    });
  });
});

// Crafted files: what redis-server does with them is held to account in
// test/integration/rdb-agreement.test.ts; these pin down the verifier's own outputs.
describe('RdbVerifier: compact encodings and empty collections', () => {
  const expireAt = Date.now() + 86_400_000;
  const withExpire = (entry: Buffer) => {
    const b = Buffer.alloc(9);
    b[0] = 0xfc;
    b.writeBigUInt64LE(BigInt(expireAt), 1);
    return Buffer.concat([b, entry]);
  };

  it('empty collections are not counted, not given to onKey or onExpire, and are reported as skipped', () => {
    const rdb = rdbFile(10, [
      rdbEntry(0, 'kept', rdbStr('v')),
      withExpire(rdbEntry(2, 'empty-set', rdbLen(0))),
      rdbEntry(13, 'empty-hash-ziplist', rdbStr(ziplist([]))),
      rdbEntry(17, 'empty-zset-listpack', rdbStr(listpack([]))),
      rdbEntry(18, 'all-nodes-empty', Buffer.concat([rdbLen(2), rdbLen(2), rdbStr(listpack([])), rdbLen(2), rdbStr(listpack([]))])),
      withExpire(rdbEntry(16, 'hash', rdbStr(listpack(['f', 'v'])))),
    ]);
    for (const feed of ['whole', 'bytes'] as Feed[]) {
      const keys: string[] = [];
      const expires: number[] = [];
      const s = verify(rdb, feed, { onKey: (k) => keys.push(Buffer.from(k.key).toString()), onExpire: (_db, at) => expires.push(at) });
      assert.deepEqual(s.keyCounts, { 0: { keys: 2, expires: 1 } });
      assert.equal(s.emptyKeysSkipped, 4);
      assert.deepEqual(keys, ['kept', 'hash']);
      assert.deepEqual(expires, [expireAt]);
    }
  });

  const refused: [string, Buffer, RegExp][] = [
    ['a hash ziplist with a wrong back-link', rdbEntry(13, 'h', rdbStr((() => {
      const zl = ziplist(['field', 'value']);
      zl[17] = 3;
      return zl;
    })())), /Hash ziplist integrity check failed: entry 1 says the previous entry has 3 bytes, it has 7/],
    ['a hash listpack with a duplicate field', rdbEntry(16, 'h', rdbStr(listpack(['f', 1, 'f', 2]))), /Hash listpack integrity check failed: duplicate field/],
    ['a zset listpack with an odd number of entries', rdbEntry(17, 'z', rdbStr(listpack(['a', 1, 'b']))), /Zset listpack integrity check failed: odd number of entries/],
    ['an intset out of order', rdbEntry(11, 's', rdbStr(intset([1, 3, 2]))), /Intset integrity check failed: integer 2 is not greater/],
    ['an empty intset', rdbEntry(11, 's', rdbStr(intset([]))), /Intset integrity check failed: empty intset/],
    ['a zipmap with a duplicate field', rdbEntry(9, 'h', rdbStr(zipmap([['f', 'v'], ['f', 'w']]))), /Zipmap integrity check failed: duplicate field/],
    ['a quicklist2 node that is an empty string', rdbEntry(18, 'l', Buffer.concat([rdbLen(1), rdbLen(1), rdbStr('')])), /empty quicklist node/],
    ['a NaN zset score', rdbEntry(3, 'z', Buffer.concat([rdbLen(1), rdbStr('a'), Buffer.from([253])])), /sorted set score is NaN/],
    ['an LZF-compressed listpack whose data is shorter than claimed', rdbEntry(16, 'h', rdbLzf(listpack(['f', 'v']), 20)), /invalid LZF data/],
  ];
  for (const [name, entry, message] of refused) {
    it(`${name} → CORRUPT naming the check, however it is chunked`, () => {
      const rdb = rdbFile(10, [rdbEntry(0, 'k', rdbStr('v')), entry]);
      for (const parts of [[rdb], chunks(rdb, 'bytes'), chunks(rdb, 5)]) {
        const r = failure(parts);
        assert.equal(r.err.code, 'CORRUPT');
        assert.match(r.err.message, message);
      }
    });
  }
});
