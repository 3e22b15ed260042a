// Differential test of Titan's RDB verifier against the reference, redis-server 7 itself: every
// file of a corpus (each type and encoding, the RDB versions Redis 7 reads, empty collections,
// crafted corruptions of each compact encoding and seeded random damage to them) is loaded by a
// real redis-server and verified by Titan; the verdict and the keys per database must agree.
//
// redis-server, not redis-check-rdb, is the judge: redis-check-rdb reports an error for empty
// collections that redis-server skips and loads past ("empty keys skipped").
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { RdbVerifier } from '../../src/lib/rdb';
import { maxRdbVersion } from '../../src/lib/restore-plan';
import { freePort, startRedisServer } from '../helpers/redis-server';
import { prng } from '../helpers/prng';
import { type Element, intset, listpack, rdbEntry, rdbFile, rdbLen, rdbLzf, rdbStr, ziplist, zipmap } from '../helpers/rdb-writer';

type Counts = Record<string, { keys: number; expires: number }>;
interface Verdict { valid: boolean; counts: Counts; why: string }

const REDIS_VERSION = /v=(\S+)/.exec(execFileSync('redis-server', ['--version'], { encoding: 'utf8' }))![1]!;
const MAX_VERSION = maxRdbVersion(REDIS_VERSION)!;

/** Titan's verdict; the file is fed whole, byte by byte and in 7-byte chunks, which must agree. */
function titanVerdict(rdb: Buffer): Verdict {
  const [whole, bytes, sevens] = [rdb.length, 1, 7].map((n) => verifyInChunks(rdb, n));
  assert.deepEqual(bytes, whole, 'fed byte by byte');
  assert.deepEqual(sevens, whole, 'fed in 7-byte chunks');
  return whole!;
}

function verifyInChunks(rdb: Buffer, size: number): Verdict {
  const v = new RdbVerifier({ maxVersion: MAX_VERSION });
  try {
    for (let i = 0; i < rdb.length; i += size) v.push(rdb.subarray(i, i + size));
    const s = v.end();
    return { valid: true, counts: { ...s.keyCounts }, why: '' };
  } catch (err) {
    return { valid: false, counts: {}, why: (err as Error).message };
  }
}

/** Starts redis-server on the file; valid = it finished loading and answers. */
async function redisVerdict(rdb: Buffer, sanitize: 'yes' | 'no'): Promise<Verdict> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'titan-rdb-agree-'));
  writeFileSync(path.join(dir, 'dump.rdb'), rdb);
  const port = await freePort();
  const log = path.join(dir, 'redis.log');
  const proc: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--dbfilename', 'dump.rdb',
    '--save', '', '--appendonly', 'no', '--sanitize-dump-payload', sanitize, '--logfile', log], { stdio: 'ignore' });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const c = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  c.on('error', () => undefined);
  try {
    for (let i = 0; i < 250; i++) {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        const tail = readFileSync(log, 'utf8').split('\n').filter((l) => /#|error|corrupt|integrity/i.test(l)).slice(-2).join(' | ');
        return { valid: false, counts: {}, why: tail };
      }
      try {
        if (c.status !== 'ready') await c.connect();
        const server = await c.info('server');
        assert.ok(server.includes(`process_id:${proc.pid}\r\n`), 'another process answered on the port');
        const counts: Counts = {};
        for (const m of (await c.info('keyspace')).matchAll(/^db(\d+):keys=(\d+),expires=(\d+)/gm)) counts[m[1]!] = { keys: Number(m[2]), expires: Number(m[3]) };
        return { valid: true, counts, why: '' };
      } catch {
        c.disconnect();
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    throw new Error('redis-server neither loaded the file nor exited within 5 s');
  } finally {
    c.disconnect();
    proc.kill('SIGKILL');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- the corpus ---------------------------------------------------------------

const FAR = Date.now() + 10 * 365 * 86_400_000; // expires that cannot pass during the test
const expireMs = () => {
  const b = Buffer.alloc(9);
  b[0] = 0xfc;
  b.writeBigUInt64LE(BigInt(FAR), 1);
  return b;
};
const blob = (type: number, key: string, bytes: Buffer) => rdbEntry(type, key, rdbStr(bytes));
const linked = (type: number, key: string, items: Buffer[], count = items.length) => rdbEntry(type, key, Buffer.concat([rdbLen(count), ...items]));
const quicklist = (key: string, nodes: Buffer[]) => linked(14, key, nodes.map(rdbStr));
const quicklist2 = (key: string, nodes: [1 | 2 | 3, Buffer][]) => linked(18, key, nodes.map(([c, b]) => Buffer.concat([rdbLen(c), rdbStr(b)])));
const binScore = (d: number) => {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(d);
  return b;
};
const asciiScore = (s: string) => Buffer.concat([Buffer.from([s.length]), Buffer.from(s)]);

/** A type-15 stream of one listpack (master id 5-0) holding `lp`, with `length` entries. */
const stream = (key: string, lp: Buffer, length = 1) => {
  const id = Buffer.alloc(16);
  id.writeBigUInt64BE(5n, 0);
  return rdbEntry(15, key, Buffer.concat([rdbLen(1), rdbStr(id), rdbStr(lp), rdbLen(length), rdbLen(5), rdbLen(0), rdbLen(0)]));
};
// Master entry: count, deleted, 1 field "f", 0; then one entry with the master's fields:
// flags 2 (same fields), id deltas 0 0, value, its length 4.
const STREAM: Element[] = [1, 0, 1, 'f', 0, 2, 0, 0, 'v', 4];

const HASH: Element[] = ['f1', 'v1', 'f2', 2, 'field-three', 'x'.repeat(70), 7, 'seven'];
const ZSET: Element[] = ['a', '1.5', 'b', 2, 'c', '-3'];
const LIST: Element[] = ['one', 2, 'three', -400, 'y'.repeat(100), 12];

/** Every type and encoding Redis 7 loads, in one db-0 file. */
function allEncodings(): Buffer[] {
  return [
    rdbEntry(0, 'string', rdbStr('hello')),
    Buffer.concat([expireMs(), rdbEntry(0, 'expiring', rdbStr('soon'))]),
    linked(1, 'list-linked', ['a', 'b', 'c'].map((s) => rdbStr(s))),
    linked(2, 'set-hashtable', ['a', 'b'].map((s) => rdbStr(s))),
    linked(3, 'zset-ascii', [rdbStr('a'), asciiScore('1.5'), rdbStr('b'), Buffer.from([254])]), // 254 = +inf
    linked(4, 'hash-hashtable', ['f', 'v', 'g', 'w'].map((s) => rdbStr(s)), 2),
    linked(5, 'zset-binary', [rdbStr('a'), binScore(1), rdbStr('b'), binScore(-2.5)]),
    blob(9, 'hash-zipmap', zipmap([['f', 'v'], ['g', 'ww']])),
    blob(10, 'list-ziplist', ziplist(LIST)),
    blob(11, 'set-intset16', intset([-3, 1, 200])),
    blob(11, 'set-intset32', intset([-70_000, 5, 70_000], 4)),
    blob(11, 'set-intset64', intset([-(2 ** 40), 0, 2 ** 40], 8)),
    blob(12, 'zset-ziplist', ziplist(ZSET)),
    blob(13, 'hash-ziplist', ziplist(HASH)),
    quicklist('list-quicklist', [ziplist(['a', 1]), ziplist(['b', 'c', 2])]),
    blob(16, 'hash-listpack', listpack(HASH)),
    blob(17, 'zset-listpack', listpack(ZSET)),
    stream('stream', listpack(STREAM)),
    quicklist2('list-quicklist2', [[2, listpack(LIST)], [1, Buffer.from('P'.repeat(50))], [2, listpack(['z'])]]),
  ];
}

interface Case { name: string; rdb: Buffer }

function corpus(realDumps: Case[]): Case[] {
  const cases: Case[] = [...realDumps];
  const one = (name: string, entry: Buffer, version = 10) => cases.push({ name, rdb: rdbFile(version, [rdbEntry(0, 'keep', rdbStr('me')), entry]) });

  // RDB versions: 3 (no checksum), 6, 9, 10 (Redis 7.0's own) load; 11 is too new for 7.0.
  for (const v of [3, 6, 9, 10, 11]) cases.push({ name: `every encoding, RDB version ${v}`, rdb: rdbFile(v, allEncodings()) });
  cases.push({ name: 'every encoding in db 5', rdb: rdbFile(10, allEncodings(), 5) });

  // Empty collections: skipped by Redis except intsets and zipmaps, which it refuses.
  one('empty linked list', linked(1, 'e', []));
  one('empty set', linked(2, 'e', []));
  one('empty zset (ascii)', linked(3, 'e', []));
  one('empty hash', linked(4, 'e', []));
  one('empty zset (binary)', linked(5, 'e', []));
  one('empty list ziplist', blob(10, 'e', ziplist([])));
  one('empty zset ziplist', blob(12, 'e', ziplist([])));
  one('empty hash ziplist', blob(13, 'e', ziplist([])));
  one('empty hash listpack', blob(16, 'e', listpack([])));
  one('empty zset listpack', blob(17, 'e', listpack([])));
  one('empty quicklist', quicklist('e', []));
  one('quicklist of one empty ziplist', quicklist('e', [ziplist([])]));
  one('quicklist2 of one empty listpack', quicklist2('e', [[2, listpack([])]]));
  one('quicklist2 with an empty and a full node', quicklist2('e', [[2, listpack([])], [2, listpack(['a'])]]));
  one('empty intset', blob(11, 'e', intset([])));
  one('empty zipmap', blob(9, 'e', zipmap([])));
  one('empty collection with an expire', Buffer.concat([expireMs(), linked(2, 'e', [])]));

  // Crafted damage to each compact encoding.
  const poke = (b: Buffer, at: number, v: number) => {
    const c = Buffer.from(b);
    c[at < 0 ? c.length + at : at] = v;
    return c;
  };
  const u32 = (b: Buffer, at: number, v: number) => {
    const c = Buffer.from(b);
    c.writeUInt32LE(v >>> 0, at);
    return c;
  };
  const u16 = (b: Buffer, at: number, v: number) => {
    const c = Buffer.from(b);
    c.writeUInt16LE(v, at);
    return c;
  };
  const zl = ziplist(HASH);
  const lp = listpack(HASH);
  const zlDamage: [string, Buffer][] = [
    ['size in header too big', u32(zl, 0, zl.length + 1)],
    ['tail offset wrong', u32(zl, 4, zl.readUInt32LE(4) - 1)],
    ['tail offset beyond the end', u32(zl, 4, zl.length + 5)],
    ['count one too many', u16(zl, 8, HASH.length + 1)],
    ['count unknown (0xffff)', u16(zl, 8, 0xffff)],
    ['second entry prevlen wrong', poke(zl, 10 + 3, 9)],
    ['invalid entry encoding', poke(zl, 11, 0xc5)],
    ['no end marker', poke(zl, -1, 0xfe)],
    ['string length past the end', poke(zl, 11, 0x3f)],
  ];
  for (const [what, b] of zlDamage) {
    one(`hash ziplist: ${what}`, blob(13, 'h', b));
    one(`list ziplist: ${what}`, blob(10, 'l', b));
    one(`quicklist ziplist node: ${what}`, quicklist('q', [b]));
  }
  one('hash ziplist: duplicate field', blob(13, 'h', ziplist(['f', 'v', 'f', 'w'])));
  one('hash ziplist: integer and string field the same', blob(13, 'h', ziplist([7, 'v', '7', 'w'])));
  one('hash ziplist: odd number of entries', blob(13, 'h', ziplist(['f', 'v', 'g'])));
  one('zset ziplist: duplicate member', blob(12, 'z', ziplist(['a', 1, 'a', 2])));
  one('list ziplist: duplicates are fine', blob(10, 'l', ziplist(['a', 'a', 'a'])));

  const lpDamage: [string, Buffer][] = [
    ['size in header too big', u32(lp, 0, lp.length + 1)],
    ['count one too many', u16(lp, 4, HASH.length + 1)],
    ['count unknown (0xffff)', u16(lp, 4, 0xffff)],
    ['back-length wrong', poke(lp, 6 + 3, 7)],
    ['invalid entry encoding', poke(lp, 6, 0xf6)],
    ['no end marker', poke(lp, -1, 0x00)],
    ['string length past the end', poke(lp, 6, 0xbf)],
  ];
  for (const [what, b] of lpDamage) {
    one(`hash listpack: ${what}`, blob(16, 'h', b));
    one(`quicklist2 listpack node: ${what}`, quicklist2('q', [[2, b]]));
  }
  one('hash listpack: duplicate field', blob(16, 'h', listpack(['f', 'v', 'f', 'w'])));
  one('hash listpack: integer and string field the same', blob(16, 'h', listpack([7, 'v', '7', 'w'])));
  one('hash listpack: odd number of entries', blob(16, 'h', listpack(['f', 'v', 'g'])));
  one('zset listpack: duplicate member', blob(17, 'z', listpack(['a', 1, 'a', 2])));
  one('quicklist2: unknown container 3', quicklist2('q', [[3, listpack(['a'])]]));
  one('quicklist2: empty plain node', quicklist2('q', [[1, Buffer.alloc(0)]]));

  const is = intset([1, 2, 3]);
  one('intset: integer size 3', blob(11, 's', u32(is, 0, 3)));
  one('intset: count one too many', blob(11, 's', u32(is, 4, 4)));
  one('intset: out of order', blob(11, 's', intset([1, 3, 2])));
  one('intset: duplicate', blob(11, 's', intset([1, 2, 2])));

  const zm = zipmap([['f', 'v'], ['g', 'w']]);
  one('zipmap: duplicate field', blob(9, 'h', zipmap([['f', 'v'], ['f', 'w']])));
  one('zipmap: count wrong', blob(9, 'h', poke(zm, 0, 3)));
  one('zipmap: count unknown (254)', blob(9, 'h', poke(zm, 0, 254)));
  one('zipmap: value past the end', blob(9, 'h', poke(zm, 4, 40)));
  one('zipmap: no end marker', blob(9, 'h', poke(zm, -1, 0)));

  // Compact encodings stored LZF-compressed: decompressed, then checked.
  one('hash ziplist, LZF-compressed', rdbEntry(13, 'h', rdbLzf(zl)));
  one('hash ziplist with a wrong back-link, LZF-compressed', rdbEntry(13, 'h', rdbLzf(poke(zl, 10 + 3, 9))));
  one('hash listpack, LZF-compressed', rdbEntry(16, 'h', rdbLzf(lp)));
  one('hash listpack, LZF claiming one byte more than it holds', rdbEntry(16, 'h', rdbLzf(lp, lp.length + 1)));
  one('hash listpack, LZF claiming one byte less than it holds', rdbEntry(16, 'h', rdbLzf(lp, lp.length - 1)));

  one('stream: listpack count in the header wrong (not checked by Redis)', stream('x', (() => {
    const b = listpack(STREAM);
    b.writeUInt16LE(3, 4);
    return b;
  })()));
  one('stream: entry length wrong', stream('x', listpack([...STREAM.slice(0, -1), 5])));
  one('stream: master entry not terminated by 0', stream('x', listpack([1, 0, 1, 'f', 1, 2, 0, 0, 'v', 4])));
  one('stream: an entry after the last', stream('x', listpack([...STREAM, 'extra'])));
  one('stream: count one too many', stream('x', listpack([2, ...STREAM.slice(1)])));
  one('stream: count not an integer', stream('x', listpack(['one', ...STREAM.slice(1)])));
  one('stream: count as a decimal string', stream('x', listpack(['1', ...STREAM.slice(1)])));
  one('stream: own fields', stream('x', listpack([1, 0, 1, 'f', 0, 0, 0, 0, 1, 'g', 'v', 6])));
  one('stream: own fields, wrong length', stream('x', listpack([1, 0, 1, 'f', 0, 0, 0, 0, 1, 'g', 'v', 4])));
  one('stream: empty listpack', stream('x', listpack([])));

  one('zset (ascii): NaN score', linked(3, 'z', [rdbStr('a'), Buffer.from([253])]));
  one('zset (binary): NaN score', linked(5, 'z', [rdbStr('a'), binScore(Number.NaN)]));

  // Seeded random damage: one byte of the encoding replaced, the file re-sealed.
  const next = prng(20261203);
  const bases: [string, (b: Buffer) => Buffer, Buffer][] = [
    ['hash ziplist', (b) => blob(13, 'h', b), zl],
    ['list ziplist', (b) => blob(10, 'l', b), ziplist(LIST)],
    ['hash listpack', (b) => blob(16, 'h', b), lp],
    ['quicklist2 node', (b) => quicklist2('q', [[2, b]]), listpack(LIST)],
    ['intset', (b) => blob(11, 's', b), intset([-3, 1, 200, 300])],
    ['zipmap', (b) => blob(9, 'h', b), zm],
    ['stream listpack', (b) => stream('x', b), listpack(STREAM)],
  ];
  for (const [what, wrap, base] of bases) {
    for (let i = 0; i < 10; i++) {
      const at = next() % base.length;
      const v = (base[at]! ^ (1 + (next() % 255))) & 0xff;
      one(`${what}: byte ${at} set to 0x${v.toString(16)}`, wrap(poke(base, at, v)));
    }
  }
  return cases;
}

/** Real files written by redis-server: every type, compact and big encodings, LZF on and off. */
async function realDumps(): Promise<Case[]> {
  const r = await startRedisServer();
  try {
    const c = r.client();
    for (const [k, v] of Object.entries({ 'list-max-listpack-size': '4', 'hash-max-listpack-entries': '8', 'set-max-intset-entries': '8', 'zset-max-listpack-entries': '8' })) {
      await c.config('SET', k, v);
    }
    await c.call('DEBUG', 'QUICKLIST-PACKED-THRESHOLD', '1000');
    await c.call('SET', 's', 'v');
    await c.call('SET', 'lzf', 'abc'.repeat(100), 'PX', FAR - Date.now());
    await c.call('RPUSH', 'l-small', 'a', 1, 'b');
    await c.call('RPUSH', 'l-big', ...Array.from({ length: 30 }, (_, i) => `i${i}`), 'P'.repeat(2000));
    await c.call('SADD', 'set-int', 1, 2, 3);
    await c.call('SADD', 'set-big', ...Array.from({ length: 20 }, (_, i) => `m${i}`));
    await c.call('ZADD', 'z-small', 1, 'a', 2, 'b');
    await c.call('ZADD', 'z-big', ...Array.from({ length: 20 }, (_, i) => [i, `m${i}`]).flat());
    await c.call('HSET', 'h-small', 'f', 'v', 'g', 1);
    await c.call('HSET', 'h-big', ...Array.from({ length: 20 }, (_, i) => [`f${i}`, `v${i}`]).flat());
    await c.call('XADD', 'stream', '1-0', 'f', 'v');
    await c.call('XGROUP', 'CREATE', 'stream', 'g', '0');
    await c.select(3);
    await c.call('SET', 'in-db3', 'x');
    const withLzf = await r.save();
    await c.config('SET', 'rdbcompression', 'no');
    const withoutLzf = await r.save();
    return [{ name: 'redis-server dump, rdbcompression yes', rdb: withLzf }, { name: 'redis-server dump, rdbcompression no', rdb: withoutLzf }];
  } finally {
    await r.stop();
  }
}

describe(`RDB verdicts agree with redis-server ${REDIS_VERSION}`, function () {
  this.timeout(600_000);
  let cases: Case[] = [];
  before(async () => {
    cases = corpus(await realDumps());
    // More files, e.g. the tests/assets/*.rdb of the redis repository (not kept here).
    const extra = process.env.TITAN_RDB_CORPUS_DIR;
    if (extra) for (const f of readdirSync(extra).filter((n) => n.endsWith('.rdb'))) cases.push({ name: f, rdb: readFileSync(path.join(extra, f)) });
  });

  it('sanitize-dump-payload yes: same verdict and same keys per db on every file', async () => {
    // "yes" runs every integrity check Redis has, the depth Titan's verifier checks at.
    const disagree: string[] = [];
    let valid = 0;
    const t0 = Date.now();
    for (const c of cases) {
      const [titan, redis] = [titanVerdict(c.rdb), await redisVerdict(c.rdb, 'yes')];
      if (redis.valid) valid++;
      if (titan.valid !== redis.valid) disagree.push(`${c.name}: redis-server ${redis.valid ? 'loads it' : `refuses it (${redis.why})`}, Titan ${titan.valid ? 'calls it valid' : `refuses it (${titan.why})`}`);
      else if (titan.valid && JSON.stringify(titan.counts) !== JSON.stringify(redis.counts)) disagree.push(`${c.name}: redis-server has ${JSON.stringify(redis.counts)}, Titan counts ${JSON.stringify(titan.counts)}`);
    }
    console.log(`      ${cases.length} files compared (${valid} loaded by redis-server, ${cases.length - valid} refused) in ${Date.now() - t0} ms`);
    assert.deepEqual(disagree, []);
    assert.ok(valid >= 20 && cases.length - valid >= 40, 'the corpus has both kinds of file');
  });

  it("sanitize-dump-payload no (Redis's default): Titan never calls valid a file Redis refuses, and counts the same keys", async () => {
    // Without sanitizing, Redis checks some encodings only shallowly and may load a listpack or
    // intset whose insides are damaged (and crash on it later); Titan refuses those: listed here.
    const wrong: string[] = [];
    const stricter: string[] = [];
    for (const c of cases) {
      const [titan, redis] = [titanVerdict(c.rdb), await redisVerdict(c.rdb, 'no')];
      if (titan.valid && !redis.valid) wrong.push(`${c.name}: redis-server refuses it (${redis.why}), Titan calls it valid`);
      else if (!titan.valid && redis.valid) stricter.push(c.name);
      else if (titan.valid && JSON.stringify(titan.counts) !== JSON.stringify(redis.counts)) wrong.push(`${c.name}: redis-server has ${JSON.stringify(redis.counts)}, Titan counts ${JSON.stringify(titan.counts)}`);
    }
    console.log(`      ${cases.length} files compared; ${stricter.length} loaded unsanitized but refused by Titan (damaged insides): ${stricter.join('; ')}`);
    assert.deepEqual(wrong, []);
  });
});
