// Integrity checks of the compact encodings an RDB stores as one string (ziplist, listpack,
// intset, zipmap), as deep as redis-server's loader runs them with sanitize-dump-payload yes:
// ziplist.c ziplistValidateIntegrity, listpack.c lpValidateIntegrity, intset.c
// intsetValidateIntegrity, zipmap.c zipmapValidateIntegrity, and rdb.c's duplicate-field checks
// (ziplistPairsConvertAndValidateIntegrity, lpPairsValidateIntegrityAndDups, the zipmap loop).
// A snapshot Redis refuses to load must not be called a valid backup. Pure code, no Node
// built-ins: the verifier runs in activities and its types reach workflows.

/** A compact encoding that fails Redis's integrity check; the message says which check. */
export class EncodingError extends Error {}

const fail = (what: string, why: string): never => {
  throw new EncodingError(`${what} integrity check failed: ${why}`);
};

const u32 = (b: Uint8Array, i: number) => (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0;
const u16 = (b: Uint8Array, i: number) => b[i] | (b[i + 1] << 8);

/** An entry as Redis compares hash fields and zset members: integers by their decimal text. */
const bytesKey = (b: Uint8Array, from: number, to: number): string => {
  let s = '';
  if (to - from <= 64) {
    // Field names are short; a plain loop is far cheaper than subarray + spread.
    for (let i = from; i < to; i++) s += String.fromCharCode(b[i]);
    return s;
  }
  for (let i = from; i < to; i += 4096) s += String.fromCharCode(...b.subarray(i, Math.min(to, i + 4096)));
  return s;
};

/** Duplicate check of field names: every entry (sets) or every even one (hash/zset pairs). */
class Distinct {
  // Most compact collections are small: a short array beats hashing every name into a Set.
  private readonly few: string[] = [];
  private seen: Set<string> | null = null;
  private n = 0;
  constructor(
    private readonly what: string,
    private readonly every: 1 | 2,
  ) {}
  /** Counts one entry; true when it is a name to pass to add(). */
  isName(): boolean {
    return this.n++ % this.every === 0;
  }
  add(k: string): void {
    if (this.seen === null) {
      if (this.few.includes(k)) fail(this.what, 'duplicate field');
      this.few.push(k);
      if (this.few.length > 16) this.seen = new Set(this.few);
      return;
    }
    if (this.seen.has(k)) fail(this.what, 'duplicate field');
    this.seen.add(k);
  }
  end(): void {
    if (this.n % this.every !== 0) fail(this.what, `odd number of entries (${this.n}) in a field/value list`);
  }
}

// ---- ziplist ----------------------------------------------------------------

const ZIP_END = 0xff;
const ZIP_HEADER = 10;

/** Bytes of the length header of a ziplist entry encoding, or 0 if the encoding is invalid. */
function zipLenSize(enc: number): number {
  if (enc === 0xc0 || enc === 0xd0 || enc === 0xf0 || enc === 0xe0 || enc === 0xfe) return 1;
  if (enc >= 0xf1 && enc <= 0xfd) return 1;
  if (enc === 0x00) return 1;
  if (enc === 0x40) return 2;
  if (enc === 0x80) return 5;
  return 0;
}

/** Payload bytes of an integer encoding. */
function zipIntSize(enc: number): number {
  switch (enc) {
    case 0xfe: return 1;
    case 0xc0: return 2;
    case 0xf0: return 3;
    case 0xd0: return 4;
    case 0xe0: return 8;
    default: return 0; // 4-bit immediate
  }
}

function zipIntText(zl: Uint8Array, p: number, enc: number): string {
  const v = new DataView(zl.buffer, zl.byteOffset + p, zipIntSize(enc));
  switch (enc) {
    case 0xfe: return String(v.getInt8(0));
    case 0xc0: return String(v.getInt16(0, true));
    case 0xf0: return String((v.getUint16(0, true) | (v.getInt8(2) << 16)));
    case 0xd0: return String(v.getInt32(0, true));
    case 0xe0: return String(v.getBigInt64(0, true));
    default: return String((enc & 0x0f) - 1);
  }
}

/**
 * ziplistValidateIntegrity(deep=1); `pairs` adds the hash/zset field checks. Returns the
 * number of entries.
 */
export function validateZiplist(zl: Uint8Array, what: string, pairs = false): number {
  const size = zl.length;
  if (size < ZIP_HEADER + 1) fail(what, `${size} bytes is shorter than a ziplist header`);
  if (u32(zl, 0) !== size) fail(what, `header says ${u32(zl, 0)} bytes, the string has ${size}`);
  if (zl[size - 1] !== ZIP_END) fail(what, 'last byte is not the end marker');
  const tail = u32(zl, 4);
  if (tail > size - 1) fail(what, 'tail offset beyond the end');
  const headerCount = u16(zl, 8);
  const first = ZIP_HEADER;
  const last = size - 1;
  const dups = pairs ? new Distinct(what, 2) : undefined;
  let count = 0;
  let p = first;
  let prev = -1;
  let prevRaw = 0;
  while (zl[p] !== ZIP_END) {
    // zipEntrySafe: every header byte and the whole entry inside [first, last].
    const prevLenSize = zl[p] < 0xfe ? 1 : 5;
    if (p + prevLenSize > last) fail(what, `entry ${count} header runs past the end`);
    const prevRawLen = prevLenSize === 1 ? zl[p] : u32(zl, p + 1);
    let enc = zl[p + prevLenSize];
    if (enc < 0xc0) enc &= 0xc0;
    const lenSize = zipLenSize(enc);
    if (lenSize === 0) fail(what, `entry ${count} has invalid encoding 0x${zl[p + prevLenSize].toString(16)}`);
    const h = p + prevLenSize;
    if (h + lenSize > last) fail(what, `entry ${count} header runs past the end`);
    let len: number;
    if (enc === 0x00) len = zl[h] & 0x3f;
    else if (enc === 0x40) len = ((zl[h] & 0x3f) << 8) | zl[h + 1];
    else if (enc === 0x80) len = ((zl[h + 1] << 24) | (zl[h + 2] << 16) | (zl[h + 3] << 8) | zl[h + 4]) >>> 0;
    else len = zipIntSize(enc);
    const raw = (prevLenSize + lenSize + len) >>> 0; // unsigned int arithmetic, as in C
    if (p + raw > last) fail(what, `entry ${count} runs past the end`);
    if (p - prevRawLen < first) fail(what, `entry ${count} points before the first entry`);
    if (prevRawLen !== prevRaw) fail(what, `entry ${count} says the previous entry has ${prevRawLen} bytes, it has ${prevRaw}`);
    if (dups?.isName()) {
      const data = h + lenSize;
      dups.add(enc < 0xc0 ? bytesKey(zl, data, data + len) : zipIntText(zl, data, enc));
    }
    prevRaw = raw;
    prev = p;
    p += raw;
    count++;
  }
  if (p !== last) fail(what, 'end marker before the end of the string');
  if (prev >= 0 && prev !== tail) fail(what, 'tail offset does not point at the last entry');
  if (headerCount !== 0xffff && count !== headerCount) fail(what, `header says ${headerCount} entries, found ${count}`);
  dups?.end();
  return count;
}

// ---- listpack ---------------------------------------------------------------

const LP_HEADER = 6;
const LP_EOF = 0xff;

/** lpCurrentEncodedSizeBytes: bytes of the encoding + length header, 0 if invalid. */
function lpHeaderSize(b: number): number {
  if ((b & 0x80) === 0) return 1; // 7-bit uint
  if ((b & 0xc0) === 0x80) return 1; // 6-bit string
  if ((b & 0xe0) === 0xc0) return 1; // 13-bit int
  if (b >= 0xf1 && b <= 0xf4) return 1; // 16/24/32/64-bit int
  if ((b & 0xf0) === 0xe0) return 2; // 12-bit string
  if (b === 0xf0) return 5; // 32-bit string
  if (b === LP_EOF) return 1;
  return 0;
}

/** lpCurrentEncodedSizeUnsafe: encoding + length + data bytes (uint32, as in C). */
function lpEntrySize(lp: Uint8Array, p: number): number {
  const b = lp[p];
  if ((b & 0x80) === 0) return 1;
  if ((b & 0xc0) === 0x80) return 1 + (b & 0x3f);
  if ((b & 0xe0) === 0xc0) return 2;
  if (b === 0xf1) return 3;
  if (b === 0xf2) return 4;
  if (b === 0xf3) return 5;
  if (b === 0xf4) return 9;
  if ((b & 0xf0) === 0xe0) return 2 + (((b & 0x0f) << 8) | lp[p + 1]);
  return (5 + u32(lp, p + 1)) >>> 0; // 0xf0
}

const lpBacklenSize = (l: number) => (l <= 127 ? 1 : l < 16383 ? 2 : l < 2097151 ? 3 : l < 268435455 ? 4 : 5);

/** lpDecodeBacklen, reading backwards from `p`; -1 when it uses more than 5 bytes. */
function lpBacklen(lp: Uint8Array, p: number): number {
  let val = 0;
  let mul = 1;
  for (let shift = 0; ; shift += 7) {
    val += (lp[p] & 127) * mul;
    if (!(lp[p] & 128)) return val;
    if (shift + 7 > 28) return -1;
    mul *= 128;
    p--;
  }
}

/** The entry as lpGet renders it: string bytes, or an integer's decimal text. */
function lpText(lp: Uint8Array, p: number): string {
  const b = lp[p];
  if ((b & 0x80) === 0) return String(b & 0x7f);
  if ((b & 0xc0) === 0x80) return bytesKey(lp, p + 1, p + 1 + (b & 0x3f));
  if ((b & 0xf0) === 0xe0) return bytesKey(lp, p + 2, p + 2 + (((b & 0x0f) << 8) | lp[p + 1]));
  if (b === 0xf0) return bytesKey(lp, p + 5, p + 5 + u32(lp, p + 1));
  const v = new DataView(lp.buffer, lp.byteOffset + p + 1);
  if ((b & 0xe0) === 0xc0) {
    const u = ((b & 0x1f) << 8) | lp[p + 1];
    return String(u >= 4096 ? u - 8192 : u);
  }
  if (b === 0xf1) return String(v.getInt16(0, true));
  if (b === 0xf2) return String(v.getUint16(0, true) | (v.getInt8(2) << 16));
  if (b === 0xf3) return String(v.getInt32(0, true));
  return String(v.getBigInt64(0, true)); // 0xf4
}

export type ListpackFields = 'none' | 'pairs' | 'all';

/**
 * lpValidateIntegrity(deep=1); `fields` adds rdb.c's duplicate checks: 'pairs' for hashes and
 * zsets (even entries are names, and the count is even), 'all' for listpack sets. Returns the
 * number of entries.
 */
export function validateListpack(lp: Uint8Array, what: string, fields: ListpackFields = 'none'): number {
  return walkListpack(lp, what, fields, null);
}

/** Walks every entry; `offsets` (streams) collects where each starts and skips the count check. */
function walkListpack(lp: Uint8Array, what: string, fields: ListpackFields, offsets: number[] | null): number {
  const size = lp.length;
  if (size < LP_HEADER + 1) fail(what, `${size} bytes is shorter than a listpack header`);
  if (u32(lp, 0) !== size) fail(what, `header says ${u32(lp, 0)} bytes, the string has ${size}`);
  if (lp[size - 1] !== LP_EOF) fail(what, 'last byte is not the end marker');
  const numele = u16(lp, 4);
  const last = size - 1;
  const dups = fields === 'none' ? undefined : new Distinct(what, fields === 'pairs' ? 2 : 1);
  let count = 0;
  let p = LP_HEADER;
  while (lp[p] !== LP_EOF) {
    const b = lp[p];
    if (b < 0xc0) {
      // Fast path for the commonest entries, a small integer or a short string (< 64 bytes),
      // with the plain one-byte back-length; anything else takes the full checks below.
      const entry = b < 0x80 ? 1 : 1 + (b & 0x3f);
      const next = p + entry + 1;
      if (next <= last && lp[next - 1] === entry) {
        if (dups?.isName()) dups.add(lpText(lp, p));
        offsets?.push(p);
        p = next;
        count++;
        continue;
      }
    }
    // lpValidateNext
    const hdr = lpHeaderSize(b);
    if (hdr === 0) fail(what, `entry ${count} has invalid encoding 0x${lp[p].toString(16)}`);
    if (p + hdr > last) fail(what, `entry ${count} header runs past the end`);
    const entry = lpEntrySize(lp, p);
    const backlen = lpBacklenSize(entry);
    const total = entry + backlen;
    if (p + total > last) fail(what, `entry ${count} runs past the end`);
    const next = p + total;
    const stored = lpBacklen(lp, next - 1);
    if (stored < 0 || stored + backlen !== total) fail(what, `entry ${count} has a back-length of ${stored}, its size is ${entry}`);
    if (dups?.isName()) dups.add(lpText(lp, p));
    offsets?.push(p);
    p = next;
    count++;
  }
  if (p !== last) fail(what, 'end marker before the end of the string');
  if (offsets === null && numele !== 0xffff && numele !== count) fail(what, `header says ${numele} entries, found ${count}`);
  dups?.end();
  return count;
}

/** string2ll: a listpack entry as an int64, or null when it is not one. */
function lpInteger(lp: Uint8Array, p: number): number | null {
  const t = lpText(lp, p);
  if (t.length >= 21 || !/^(0|-?[1-9][0-9]*)$/.test(t)) return null;
  if (t.length >= 19) {
    const v = BigInt(t);
    if (v > 9223372036854775807n || v < -9223372036854775808n) return null;
  }
  return Number(t);
}

/**
 * t_stream.c streamValidateListpackIntegrity(deep=1): the master entry (count, deleted, fields,
 * field names, 0), then each entry (flags, id, fields unless it has the master's, values, and its
 * own length), and nothing after. Like Redis, it does not check the header's entry count.
 */
export function validateStreamListpack(lp: Uint8Array, what: string): void {
  const at: number[] = [];
  walkListpack(lp, what, 'none', at);
  const n = at.length; // index n is the end marker; Redis reads it as the integer 12345678900000255
  if (n === 0) fail(what, 'empty listpack inside a stream');
  let p = 0;
  const step = () => {
    if (p === n) fail(what, 'stream entries run past the end');
    p++;
  };
  const int = (): number => {
    if (p === n) return 12345678900000255;
    const v = lpInteger(lp, at[p]);
    return v === null ? fail(what, `stream listpack entry ${p} is not an integer`) : v;
  };
  let entries = int();
  step();
  const deleted = int();
  step();
  const masterFields = int();
  step();
  for (let j = 0; j < masterFields; j++) step();
  if (int() !== 0) fail(what, 'master entry not terminated by 0');
  step();
  entries += deleted;
  while (entries-- !== 0) {
    const flags = int();
    step();
    int(); // entry id: ms and seq deltas
    step();
    int();
    step();
    let fields = masterFields;
    let extra = 3;
    if (!(flags & 2)) { // not STREAM_ITEM_FLAG_SAMEFIELDS: its own field names
      fields = int();
      step();
      for (let j = 0; j < fields; j++) step();
      extra += fields + 1;
    }
    for (let j = 0; j < fields; j++) step();
    if (int() !== fields + extra) fail(what, `stream entry length ${int()} is not ${fields + extra}`);
    step();
  }
  if (p !== n) fail(what, 'entries after the last stream entry');
}

// ---- intset -----------------------------------------------------------------

/** intsetValidateIntegrity(deep=1): size, non-empty, strictly ascending. Returns the count. */
export function validateIntset(is: Uint8Array, what: string): number {
  if (is.length < 8) fail(what, `${is.length} bytes is shorter than an intset header`);
  const enc = u32(is, 0);
  if (enc !== 2 && enc !== 4 && enc !== 8) fail(what, `unknown integer size ${enc}`);
  const count = u32(is, 4);
  if (8 + count * enc !== is.length) fail(what, `header says ${count} integers of ${enc} bytes, the string has ${is.length} bytes`);
  if (count === 0) fail(what, 'empty intset');
  const v = enc === 8 ? new DataView(is.buffer, is.byteOffset + 8, is.length - 8) : null;
  const at = (i: number): bigint | number => {
    const q = 8 + i * enc;
    if (enc === 2) return ((is[q] | (is[q + 1] << 8)) << 16) >> 16;
    if (enc === 4) return is[q] | (is[q + 1] << 8) | (is[q + 2] << 16) | (is[q + 3] << 24);
    return v!.getBigInt64(i * 8, true);
  };
  let prev = at(0);
  for (let i = 1; i < count; i++) {
    const cur = at(i);
    if (cur <= prev) fail(what, `integer ${i} is not greater than the one before (duplicate or out of order)`);
    prev = cur;
  }
  return count;
}

// ---- zipmap (RDB < 4 hashes) ------------------------------------------------

/** zipmapValidateIntegrity(deep=1) plus rdb.c's duplicate-field check. Returns the pair count. */
export function validateZipmap(zm: Uint8Array, what: string): number {
  const size = zm.length;
  if (size < 2) fail(what, `${size} bytes is shorter than a zipmap`);
  if (zm[size - 1] !== 0xff) fail(what, 'last byte is not the end marker');
  const last = size - 1;
  const out = (q: number) => q < 2 || q > last;
  const lenAt = (q: number) => (zm[q] < 254 ? zm[q] : u32(zm, q + 1));
  const fields = new Set<string>();
  let count = 0;
  let p = 1;
  while (zm[p] !== 0xff) {
    let s = zm[p] < 254 ? 1 : 5;
    if (out(p + s)) fail(what, `field ${count} length runs past the end`);
    const flen = lenAt(p);
    const field = p + s;
    p = field + flen;
    if (out(p)) fail(what, `field ${count} runs past the end`);
    const name = bytesKey(zm, field, p);
    s = zm[p] < 254 ? 1 : 5;
    if (out(p + s)) fail(what, `value ${count} length runs past the end`);
    const vlen = lenAt(p);
    p += s;
    const free = zm[p++];
    p += (vlen + free) >>> 0;
    count++;
    if (out(p)) fail(what, `value ${count - 1} runs past the end`);
    if (fields.has(name)) fail(what, 'duplicate field');
    fields.add(name);
  }
  if (count === 0) fail(what, 'empty zipmap');
  if (zm[0] !== 254 && zm[0] !== count) fail(what, `header says ${zm[0]} pairs, found ${count}`);
  return count;
}
