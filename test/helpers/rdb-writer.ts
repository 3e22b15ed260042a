// Builds RDB files and the compact encodings inside them byte by byte, for tests that need
// files redis-server 7 no longer writes (ziplists, zipmaps, old RDB versions) or that it never
// writes (crafted corruptions). Layouts: Redis rdb.c, ziplist.c, listpack.c, intset.c, zipmap.c.
import { crc64 } from '../../src/lib/crc64';

export type Element = string | number;

const u32le = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
};

/** An RDB length (6, 14 or 32 bits). */
export function rdbLen(n: number): Buffer {
  if (n < 64) return Buffer.from([n]);
  if (n < 16384) return Buffer.from([0x40 | (n >> 8), n & 0xff]);
  const b = Buffer.alloc(5);
  b[0] = 0x80;
  b.writeUInt32BE(n, 1);
  return b;
}

/** A raw RDB string. */
export const rdbStr = (s: string | Buffer) => {
  const b = Buffer.isBuffer(s) ? s : Buffer.from(s);
  return Buffer.concat([rdbLen(b.length), b]);
};

/** An LZF-compressed RDB string made only of literal runs (valid LZF, nothing actually shared). */
export function rdbLzf(data: Buffer, claimedLength = data.length): Buffer {
  const runs: Buffer[] = [];
  for (let i = 0; i < data.length; i += 32) {
    const run = data.subarray(i, i + 32);
    runs.push(Buffer.from([run.length - 1]), run);
  }
  const compressed = Buffer.concat(runs);
  return Buffer.concat([Buffer.from([0xc3]), rdbLen(compressed.length), rdbLen(claimedLength), compressed]);
}

/** One key: type byte, name, value bytes. */
export const rdbEntry = (type: number, key: string, value: Buffer) => Buffer.concat([Buffer.from([type]), rdbStr(key), value]);

/** A whole file: header, db 0 with the entries, EOF and (from version 5) the CRC-64. */
export function rdbFile(version: number, entries: Buffer[], db = 0): Buffer {
  const body = Buffer.concat([Buffer.from(`REDIS${String(version).padStart(4, '0')}`), Buffer.from([0xfe]), rdbLen(db), ...entries, Buffer.from([0xff])]);
  if (version < 5) return body;
  const sum = Buffer.alloc(8);
  sum.writeBigUInt64LE(crc64(body));
  return Buffer.concat([body, sum]);
}

const isInt = (e: Element): e is number => typeof e === 'number';

export function ziplist(elements: Element[]): Buffer {
  const entries: Buffer[] = [];
  let prev = 0;
  let tail = 10;
  let offset = 10;
  for (const e of elements) {
    const prevlen = prev < 254 ? Buffer.from([prev]) : Buffer.concat([Buffer.from([0xfe]), u32le(prev)]);
    let enc: Buffer;
    if (isInt(e)) {
      if (e >= 0 && e <= 12) enc = Buffer.from([0xf1 + e]);
      else {
        enc = Buffer.alloc(3);
        enc[0] = 0xc0;
        enc.writeInt16LE(e, 1);
      }
    } else {
      const d = Buffer.from(e);
      const hdr = d.length < 64 ? Buffer.from([d.length]) : Buffer.from([0x40 | (d.length >> 8), d.length & 0xff]);
      enc = Buffer.concat([hdr, d]);
    }
    const entry = Buffer.concat([prevlen, enc]);
    tail = offset;
    offset += entry.length;
    prev = entry.length;
    entries.push(entry);
  }
  const head = Buffer.alloc(10);
  head.writeUInt32LE(offset + 1, 0);
  head.writeUInt32LE(tail, 4);
  head.writeUInt16LE(Math.min(elements.length, 0xffff), 8);
  return Buffer.concat([head, ...entries, Buffer.from([0xff])]);
}

const backlen = (l: number) => (l <= 127 ? Buffer.from([l]) : Buffer.from([l >> 7, (l & 127) | 128]));

export function listpack(elements: Element[]): Buffer {
  const entries = elements.map((e) => {
    let enc: Buffer;
    if (isInt(e) && e >= 0 && e <= 127) enc = Buffer.from([e]);
    else if (isInt(e)) {
      enc = Buffer.alloc(3);
      enc[0] = 0xf1;
      enc.writeInt16LE(e, 1);
    } else {
      const d = Buffer.from(e);
      enc = d.length < 64 ? Buffer.concat([Buffer.from([0x80 | d.length]), d]) : Buffer.concat([Buffer.from([0xe0 | (d.length >> 8), d.length & 0xff]), d]);
    }
    return Buffer.concat([enc, backlen(enc.length)]);
  });
  const head = Buffer.alloc(6);
  const total = 6 + entries.reduce((n, e) => n + e.length, 0) + 1;
  head.writeUInt32LE(total, 0);
  head.writeUInt16LE(Math.min(elements.length, 0xffff), 4);
  return Buffer.concat([head, ...entries, Buffer.from([0xff])]);
}

export function intset(values: number[], width: 2 | 4 | 8 = 2): Buffer {
  const b = Buffer.alloc(8 + values.length * width);
  b.writeUInt32LE(width, 0);
  b.writeUInt32LE(values.length, 4);
  values.forEach((v, i) => (width === 2 ? b.writeInt16LE(v, 8 + 2 * i) : width === 4 ? b.writeInt32LE(v, 8 + 4 * i) : b.writeBigInt64LE(BigInt(v), 8 + 8 * i)));
  return b;
}

export function zipmap(pairs: [string, string][]): Buffer {
  const parts = pairs.flatMap(([f, v]) => [Buffer.from([f.length]), Buffer.from(f), Buffer.from([v.length, 0]), Buffer.from(v)]);
  return Buffer.concat([Buffer.from([Math.min(pairs.length, 254)]), ...parts, Buffer.from([0xff])]);
}
