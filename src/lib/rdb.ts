// Streaming RDB verifier: fed arbitrary chunks, it checks the CRC-64 trailer and walks
// the RDB structure without buffering values, so a multi-GiB snapshot can be verified
// while it is uploaded. Layouts follow Redis src/rdb.c (rdbLoadRioWithLoadingCtx,
// rdbLoadObject, rdbLoadCheckModuleValue).
//
// Design: values are described by tiny instruction programs (see VALUE) run by a
// resumable interpreter. Every instruction is either a small "atom" (≤ 19 bytes: a
// length, a string header, an opcode) that is parsed all-or-nothing, or a byte count to
// skip. An atom split across chunks is re-parsed from a small stitch buffer, so nothing
// larger than an atom is ever copied, except aux fields, for onKey the names and short
// string values of picked keys, and compact encodings (ziplist, listpack, intset, zipmap),
// which are checked whole as redis-server's loader checks them (rdb-encodings.ts) and, like
// Redis, counted: an empty collection is a key Redis skips, so it is not counted.

import { WasmCrc64 } from './crc64-fast';
import { EncodingError, validateIntset, validateListpack, validateStreamListpack, validateZiplist, validateZipmap } from './rdb-encodings';

export type RdbErrorCode =
  | 'EMPTY'
  | 'BAD_MAGIC'
  | 'UNSUPPORTED_VERSION'
  | 'TRUNCATED'
  | 'BAD_CHECKSUM'
  | 'TRAILING_DATA'
  | 'CORRUPT';

export class RdbError extends Error {
  constructor(
    readonly code: RdbErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'RdbError';
  }
}

export interface RdbKey {
  db: number;
  key: Uint8Array;
  type: number;
  expireAtMs?: number;
  /** Decoded value of a plain string (type 0) of at most maxValueBytes; else absent. */
  value?: Uint8Array;
}

export interface RdbVerifierOptions {
  /** Highest RDB version accepted (default 12, Redis 7.4). */
  maxVersion?: number;
  /** Called for every picked key (every key when pickKey is not set). */
  onKey?: (k: RdbKey) => void;
  /**
   * Called once at the start of every key; true picks it for onKey. Keys not picked are
   * skipped without copying anything. Needs onKey.
   */
  pickKey?: () => boolean;
  /** Longest string value (decoded) given to onKey; longer ones are skipped (default 65536). */
  maxValueBytes?: number;
  /** Called for every key with an expire time, picked or not; copies nothing. */
  onExpire?: (db: number, expireAtMs: number) => void;
}

export interface RdbSummary {
  rdbVersion: number;
  bytes: number;
  checksum: 'ok' | 'disabled';
  /** Stored checksum, or the computed one when the file has checksums disabled. */
  crc64: string;
  aux: Record<string, string>;
  /** Keys Redis keeps when it loads the file (empty collections are not among them). */
  keyCounts?: Record<number, { keys: number; expires: number }>;
  /** Empty collections in the file, which Redis skips when loading ("empty keys skipped"). */
  emptyKeysSkipped?: number;
  resizeHints?: Record<number, { keys: number; expires: number }>;
  structure: 'parsed' | { skipped: string };
}

/** Newest RDB version whose layout this file knows (Redis 7.4). */
const KNOWN_VERSION = 12;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;
/** Largest atom: LZF string header = 1 + 9 + 9 bytes. */
const MAX_ATOM = 19;
const STITCH = 64;

// Top-level opcodes.
const OP_SLOT_INFO = 0xf4;
const OP_FUNCTION2 = 0xf5;
const OP_FUNCTION_PRE_GA = 0xf6;
const OP_MODULE_AUX = 0xf7;
const OP_IDLE = 0xf8;
const OP_FREQ = 0xf9;
const OP_AUX = 0xfa;
const OP_RESIZEDB = 0xfb;
const OP_EXPIRETIME_MS = 0xfc;
const OP_EXPIRETIME = 0xfd;
const OP_SELECTDB = 0xfe;
const OP_EOF = 0xff;

// Interpreter instructions.
const I_STR = 0; // skip a string
const I_KEY = 1; // captured key name
const I_AUXK = 2; // captured aux name
const I_AUXV = 3; // captured aux value
const I_LEN = 4; // length → loop register
const I_LOOP = 5; // [I_LOOP, bodyLen, ...body, I_END]: repeat body `register` times
const I_END = 6;
const I_SKIP = 7; // [I_SKIP, n]: fixed-size raw bytes
const I_DBL = 8; // pre-RDB8 double: 1-byte length (253..255 = nan/inf) + ascii
const I_QLC = 9; // quicklist2 node container: 1 plain, 2 packed
const I_MOD = 10; // module opcode stream until RDB_MODULE_OPCODE_EOF
const I_EXP4 = 11; // 4-byte LE seconds
const I_EXP8 = 12; // 8-byte LE milliseconds
const I_SELECT = 13;
const I_RSZ_K = 14;
const I_RSZ_E = 15;
const I_WHEN = 16; // module aux: when_opcode must be UINT (2)
const I_KEYDONE = 17; // count the key; ends every key program
const I_DONE = 18; // ends every opcode program
const I_VAL = 19; // string value, captured when it fits maxValueBytes
const I_BLOB = 20; // [I_BLOB, kind]: a compact encoding, captured whole and checked (see BLOB_*)
const I_LENE = 21; // element count → loop register; 0 makes the key one Redis skips as empty
const I_QLEN = 22; // quicklist node count → loop register; the nodes' elements decide emptiness
const I_SCORE = 23; // 8-byte binary double (zset2 score); NaN is refused, as Redis does

// Compact encodings, checked as Redis's loader checks them (rdb-encodings.ts).
const BLOB_ZIPMAP = 0;
const BLOB_LIST_ZIPLIST = 1;
const BLOB_INTSET = 2;
const BLOB_PAIRS_ZIPLIST = 3; // hash or zset ziplist
const BLOB_QUICKLIST_ZIPLIST = 4; // one node of a quicklist (type 14)
const BLOB_PAIRS_LISTPACK = 5; // hash or zset listpack
const BLOB_QUICKLIST2_NODE = 6; // one node of a quicklist2 (type 18): plain string or listpack
const BLOB_STREAM_ID = 7; // the master id keying a stream listpack
const BLOB_STREAM_LISTPACK = 8;
const BLOB_SET_LISTPACK = 9;

const loop = (...body: number[]): number[] => [I_LOOP, body.length, ...body, I_END];

const STREAM_V1 = [
  I_LEN, ...loop(I_BLOB, BLOB_STREAM_ID, I_BLOB, BLOB_STREAM_LISTPACK), // listpacks: master id + listpack
  I_LEN, I_LEN, I_LEN, // length, last id
];
const STREAM_V2_META = [I_LEN, I_LEN, I_LEN, I_LEN, I_LEN]; // first id, max deleted id, entries added

// Stream types 15/19/21 (rdb.c rdbLoadObject; v2 = RDB 10, v3 = RDB 11).
function streamProgram(v: 1 | 2 | 3): number[] {
  // Group PEL: 16-byte raw id, 8-byte delivery time, delivery count.
  const pel = [I_LEN, ...loop(I_SKIP, 16, I_SKIP, 8, I_LEN)];
  // Consumer: name, seen time, (v3) active time, then its PEL as raw ids only.
  const consumer = [I_STR, I_SKIP, 8, ...(v >= 3 ? [I_SKIP, 8] : []), I_LEN, ...loop(I_SKIP, 16)];
  // Group: name, last id, (v2+) entries read, PEL, consumers.
  const group = [I_STR, I_LEN, I_LEN, ...(v >= 2 ? [I_LEN] : []), ...pel, I_LEN, ...loop(...consumer)];
  return [...STREAM_V1, ...(v >= 2 ? STREAM_V2_META : []), I_LEN, ...loop(...group)];
}

/** Value layouts by RDB type; undefined = unknown type. */
const VALUE: (number[] | undefined)[] = [];
VALUE[0] = [I_STR]; // string
VALUE[1] = [I_LENE, ...loop(I_STR)]; // list (linked)
VALUE[2] = [I_LENE, ...loop(I_STR)]; // set
VALUE[3] = [I_LENE, ...loop(I_STR, I_DBL)]; // zset, ascii scores
VALUE[4] = [I_LENE, ...loop(I_STR, I_STR)]; // hash
VALUE[5] = [I_LENE, ...loop(I_STR, I_SCORE)]; // zset2, binary scores
VALUE[7] = [I_LEN, I_MOD]; // module2: module id + annotated opcodes
VALUE[9] = [I_BLOB, BLOB_ZIPMAP];
VALUE[10] = [I_BLOB, BLOB_LIST_ZIPLIST];
VALUE[11] = [I_BLOB, BLOB_INTSET];
VALUE[12] = [I_BLOB, BLOB_PAIRS_ZIPLIST]; // zset
VALUE[13] = [I_BLOB, BLOB_PAIRS_ZIPLIST]; // hash
VALUE[16] = [I_BLOB, BLOB_PAIRS_LISTPACK]; // hash
VALUE[17] = [I_BLOB, BLOB_PAIRS_LISTPACK]; // zset
VALUE[20] = [I_BLOB, BLOB_SET_LISTPACK]; // set (Redis 7.2)
VALUE[23] = [I_STR]; // hash listpack with field TTLs, 7.4 RC
VALUE[14] = [I_QLEN, ...loop(I_BLOB, BLOB_QUICKLIST_ZIPLIST)]; // quicklist of ziplists
VALUE[15] = streamProgram(1);
VALUE[18] = [I_QLEN, ...loop(I_QLC, I_BLOB, BLOB_QUICKLIST2_NODE)]; // quicklist2
VALUE[19] = streamProgram(2);
VALUE[21] = streamProgram(3);
// Hashes with field TTLs (RDB 12): 24/25 start with the 8-byte minimum expire time;
// 22/24 store [ttl, field, value] triples.
VALUE[22] = [I_LEN, ...loop(I_LEN, I_STR, I_STR)]; // 7.4 RC
VALUE[24] = [I_SKIP, 8, I_LEN, ...loop(I_LEN, I_STR, I_STR)];
VALUE[25] = [I_SKIP, 8, I_STR]; // listpack

// Keys not picked skip their name like any string; picked ones capture it, and the value
// of a plain string.
const KEY_PROGRAMS: (number[] | undefined)[] = VALUE.map((v) => (v ? [I_STR, ...v, I_KEYDONE] : undefined));
const PICKED_PROGRAMS: (number[] | undefined)[] = VALUE.map((v, t) => (v ? [I_KEY, ...(t === 0 ? [I_VAL] : v), I_KEYDONE] : undefined));

const OPCODE_PROGRAMS: Record<number, number[]> = {
  [OP_AUX]: [I_AUXK, I_AUXV, I_DONE],
  [OP_SELECTDB]: [I_SELECT, I_DONE],
  [OP_RESIZEDB]: [I_RSZ_K, I_RSZ_E, I_DONE],
  [OP_EXPIRETIME]: [I_EXP4, I_DONE],
  [OP_EXPIRETIME_MS]: [I_EXP8, I_DONE],
  [OP_FREQ]: [I_SKIP, 1, I_DONE],
  [OP_IDLE]: [I_LEN, I_DONE],
  [OP_FUNCTION2]: [I_STR, I_DONE],
  [OP_MODULE_AUX]: [I_LEN, I_WHEN, I_LEN, I_MOD, I_DONE], // module id, when_opcode, when, value
  [OP_SLOT_INFO]: [I_LEN, I_LEN, I_LEN, I_DONE],
};

// Capture targets for strings we need to read rather than skip.
const CAP_NONE = 0;
const CAP_KEY = 1;
const CAP_AUXK = 2;
const CAP_AUXV = 3;
const CAP_VAL = 4;
const CAP_BLOB = 5;

// Parser phases.
const P_HEADER = 0;
const P_BODY = 1;
const P_DONE = 2; // EOF opcode seen
const P_SKIPPED = 3; // structure abandoned; only checksum and framing remain

type Counts = { keys: number; expires: number };

export class RdbVerifier {
  private readonly maxVersion: number;
  private readonly onKey?: (k: RdbKey) => void;
  private readonly pickKey?: () => boolean;
  private readonly pickAll: boolean; // onKey without pickKey
  private readonly maxValueBytes: number;
  private readonly onExpire?: (db: number, expireAtMs: number) => void;
  private readonly notify: boolean; // onKey or onExpire set

  // Framing and checksum.
  private bytes = 0;
  private total = -1; // expected stream length once the EOF opcode is seen
  private trailer = 8; // RDB < 5 has no checksum
  private readonly crc = new WasmCrc64();
  private readonly hold = new Uint8Array(8); // newest bytes, not yet in the CRC
  private holdLen = 0;
  private lastFed = -1; // last byte given to the CRC (the EOF opcode if framing is right)
  private failed: unknown = null; // first error thrown (ours or a callback's); the verifier stays dead
  private summary: RdbSummary | null = null;
  private stored: string | null = null; // checksum once verified

  // Parser state.
  private phase = P_HEADER;
  private version = 0;
  private prog: number[] | null = null;
  private pc = 0;
  private skip = 0;
  private reg = 0;
  private lval = 0;
  private readonly loopStart = new Int32Array(8);
  private readonly loopLeft = new Float64Array(8);
  private depth = 0;
  private modOp = 0;
  private modEof = false;
  private opcode = 0;
  private readonly carry = new Uint8Array(MAX_ATOM + STITCH);
  private carryLen = 0;
  private skippedReason = '';
  private blobKind = 0;
  private blobAt = 0;
  private qlPlain = false; // the quicklist2 node being read is a plain string
  /** Elements of the key being read, when Redis skips it at 0; -1 when it never does. */
  private elems = -1;
  private emptySkipped = 0;

  // String header results.
  private hKind = 0; // 0 raw, 1 int, 2 lzf
  private hLen = 0; // payload bytes that follow the header
  private hInt = 0;
  private hUlen = 0;

  // Capture of key names, string values and aux fields.
  private cap = CAP_NONE;
  private capBuf = new Uint8Array(256);
  private capLen = 0;
  private capKind = 0;
  private capUlen = 0;

  // Results.
  private db = 0;
  private expireAt = -1;
  private keyType = 0;
  private key: Uint8Array | null = null; // set only for a picked key
  private value: Uint8Array | undefined;
  private rszKeys = 0;
  private auxKey = '';
  private readonly aux: Record<string, string> = {};
  private readonly counts = new Map<number, Counts>();
  private dbCounts: Counts | null = null; // counts of the current db
  private readonly hints = new Map<number, Counts>();

  constructor(opts: RdbVerifierOptions = {}) {
    this.maxVersion = opts.maxVersion ?? KNOWN_VERSION;
    if (opts.pickKey && !opts.onKey) throw new TypeError('RdbVerifier: pickKey needs onKey');
    this.onKey = opts.onKey;
    this.pickKey = opts.pickKey;
    this.pickAll = opts.onKey !== undefined && opts.pickKey === undefined;
    this.maxValueBytes = opts.maxValueBytes ?? 65536;
    this.onExpire = opts.onExpire;
    this.notify = opts.onKey !== undefined || opts.onExpire !== undefined;
  }

  push(chunk: Uint8Array): void {
    if (this.failed) throw this.failed;
    if (this.summary) throw new Error('RdbVerifier.push() called after end()');
    try {
      this.accept(chunk);
    } catch (e) {
      // Any throw (including from a callback) may leave the state machine mid-step.
      this.failed = e;
      throw e;
    }
  }

  end(): RdbSummary {
    if (this.failed) throw this.failed;
    if (this.summary) return this.summary;
    try {
      this.summary = this.finish();
      return this.summary;
    } catch (e) {
      this.failed = e;
      throw e;
    }
  }

  // ---- framing and checksum ------------------------------------------------

  private accept(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (this.total >= 0 && this.bytes + chunk.length > this.total) return this.overflow(chunk);
    if (this.phase === P_HEADER || this.phase === P_BODY) this.parseChunk(chunk);
    // The parser may just have found the EOF opcode inside this chunk.
    if (this.total >= 0 && this.bytes + chunk.length > this.total) return this.overflow(chunk);
    this.feed(chunk);
    this.bytes += chunk.length;
    if (this.bytes === this.total) this.checkTrailer();
  }

  /** Bytes beyond the end of the RDB: verify what belongs to it first, then refuse. */
  private overflow(chunk: Uint8Array): void {
    const keep = this.total - this.bytes;
    if (keep > 0) {
      this.feed(chunk.subarray(0, keep));
      this.bytes += keep;
      this.checkTrailer();
    }
    throw new RdbError(
      'TRAILING_DATA',
      `unexpected data after the end of the RDB at byte ${this.total} (${chunk.length - keep} extra bytes in this chunk)`,
    );
  }

  /** CRC everything except the newest 8 bytes, which may turn out to be the trailer. */
  private feed(data: Uint8Array): void {
    const n = data.length;
    if (n >= 8) {
      if (this.holdLen) {
        this.crc.update(this.hold.subarray(0, this.holdLen));
        this.lastFed = this.hold[this.holdLen - 1];
      }
      if (n > 8) {
        this.crc.update(data.subarray(0, n - 8));
        this.lastFed = data[n - 9];
      }
      this.hold.set(data.subarray(n - 8));
      this.holdLen = 8;
      return;
    }
    const drop = this.holdLen + n - 8;
    if (drop > 0) {
      this.crc.update(this.hold.subarray(0, drop));
      this.lastFed = this.hold[drop - 1];
      this.hold.copyWithin(0, drop, this.holdLen);
      this.holdLen -= drop;
    }
    this.hold.set(data, this.holdLen);
    this.holdLen += n;
  }

  private checkTrailer(): void {
    if (this.trailer === 0) return; // RDB < 5: checksum-less, all bytes were the body
    const h = this.hold;
    const lo = (h[0] | (h[1] << 8) | (h[2] << 16) | (h[3] << 24)) >>> 0;
    const hi = (h[4] | (h[5] << 8) | (h[6] << 16) | (h[7] << 24)) >>> 0;
    if (lo === 0 && hi === 0) {
      this.stored = '';
      return;
    }
    const stored = hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0');
    const actual = this.crc.hex();
    if (stored !== actual) {
      throw new RdbError('BAD_CHECKSUM', `RDB checksum mismatch: file says ${stored}, computed ${actual}`);
    }
    this.stored = stored;
  }

  private finish(): RdbSummary {
    if (this.bytes === 0) throw new RdbError('EMPTY', 'RDB stream is empty (0 bytes)');
    if (this.phase === P_HEADER) {
      throw new RdbError('TRUNCATED', `RDB stream ended inside the header after ${this.bytes} bytes`);
    }
    if (this.phase === P_BODY) {
      // A stream cut short rarely ends with EOF opcode + checksum; a full-length stream
      // whose structure we lost track of (e.g. a corrupted length) does: report that as
      // the checksum failure it almost certainly is.
      if (this.trailer === 8 && this.holdLen === 8 && this.lastFed === OP_EOF && this.hold.some((b) => b !== 0)) {
        this.checkTrailer();
        this.corrupt(`structure does not end at the EOF opcode although the checksum matches (${this.where()})`, this.bytes - 9);
      }
      throw new RdbError('TRUNCATED', `RDB stream ended at byte ${this.bytes} before the EOF opcode (${this.where()})`);
    }
    if (this.phase === P_SKIPPED) {
      if (this.holdLen < 8 || this.lastFed !== OP_EOF) {
        throw new RdbError('TRUNCATED', `RDB stream ended at byte ${this.bytes} without EOF opcode and checksum`);
      }
      this.checkTrailer();
    } else if (this.bytes < this.total) {
      throw new RdbError('TRUNCATED', `RDB stream ended at byte ${this.bytes}, inside the checksum ending at ${this.total}`);
    }
    if (this.trailer === 0) this.crc.update(this.hold.subarray(0, this.holdLen));
    const parsed = this.phase === P_DONE;
    const summary: RdbSummary = {
      rdbVersion: this.version,
      bytes: this.bytes,
      checksum: this.stored ? 'ok' : 'disabled',
      crc64: this.stored || this.crc.hex(),
      aux: { ...this.aux },
      resizeHints: toRecord(this.hints),
      structure: parsed ? 'parsed' : { skipped: this.skippedReason },
    };
    if (parsed) {
      summary.keyCounts = toRecord(this.counts);
      summary.emptyKeysSkipped = this.emptySkipped;
    }
    return summary;
  }

  private where(): string {
    if (!this.prog) return 'between entries';
    return this.opcode < OP_SLOT_INFO ? `inside a value of type ${this.opcode}` : `inside opcode 0x${this.opcode.toString(16)}`;
  }

  // ---- structure ----------------------------------------------------------

  private parseChunk(chunk: Uint8Array): void {
    let start = 0;
    if (this.carryLen > 0) {
      // Finish the atom split across chunks in the stitch buffer, then continue in place.
      const c = this.carry;
      const k = Math.min(chunk.length, STITCH);
      c.set(chunk.subarray(0, k), this.carryLen);
      const len = this.carryLen + k;
      const p = this.parse(c, 0, len, this.bytes - this.carryLen);
      if (p < this.carryLen) {
        if (k !== chunk.length) throw new Error('rdb: atom longer than the stitch buffer');
        c.copyWithin(0, p, len);
        this.carryLen = len - p;
        return;
      }
      this.carryLen = 0;
      start = p - (len - k);
      if (this.phase !== P_HEADER && this.phase !== P_BODY) return;
    }
    const p = this.parse(chunk, start, chunk.length, this.bytes);
    if (p < chunk.length && (this.phase === P_HEADER || this.phase === P_BODY)) {
      if (chunk.length - p > MAX_ATOM) throw new Error('rdb: parser stalled');
      this.carry.set(chunk.subarray(p));
      this.carryLen = chunk.length - p;
    }
  }

  private corrupt(msg: string, at: number): never {
    throw new RdbError('CORRUPT', `corrupt RDB at byte ${at}: ${msg}`);
  }

  /**
   * Runs the structure as far as `buf[pos..end)` allows. Returns `end`, the start of an
   * incomplete atom, or the position just after the EOF opcode. `base` is the stream
   * offset of buf[0], for messages.
   */
  private parse(buf: Uint8Array, pos: number, end: number, base: number): number {
    if (this.phase === P_HEADER) {
      const p = this.header(buf, pos, end, base);
      if (p < 0) return pos;
      pos = p;
    }
    if (this.skip > 0) {
      const avail = end - pos;
      if (this.skip > avail) {
        if (this.cap) this.capAppend(buf, pos, end);
        this.skip -= avail;
        return end;
      }
      if (this.cap) this.capAppend(buf, pos, pos + this.skip);
      pos += this.skip;
      this.skip = 0;
      if (this.cap) this.capDone(base + pos);
    }
    // prog/pc live in locals for speed and are written back on the way out.
    let prog = this.prog;
    let pc = this.pc;
    let ret: number;
    const pickAll = this.pickAll;
    const pickKey = this.pickKey;
    for (;;) {
      if (prog === null) {
        // Between entries: next opcode or value type.
        if (pos >= end) {
          ret = pos;
          break;
        }
        const op = buf[pos++];
        // Decided before the fast path so that pickKey sees every key exactly once.
        let picked = pickAll;
        if (pickKey !== undefined && op < OP_SLOT_INFO) picked = pickKey();
        if (op === 0 && !picked) {
          // Fast path for the commonest entry, a short string key and value, both in this chunk.
          const kb = buf[pos];
          if (kb < 0x40 && pos + kb + 1 < end) {
            const vb = buf[pos + kb + 1];
            const p = pos + kb + 2 + vb;
            if (vb < 0x40 && p <= end) {
              pos = p;
              this.keyType = 0;
              this.keyDone();
              continue;
            }
          }
        }
        this.opcode = op;
        pc = 0;
        if (op < OP_SLOT_INFO) {
          prog = (picked ? PICKED_PROGRAMS : KEY_PROGRAMS)[op] ?? null;
          if (prog === null) {
            this.unknownType(op, base + pos - 1);
            ret = pos;
            break;
          }
          this.keyType = op;
        } else if (op === OP_EOF) {
          this.phase = P_DONE;
          this.total = base + pos + this.trailer;
          ret = pos;
          break;
        } else if (op === OP_FUNCTION_PRE_GA) {
          this.corrupt('pre-release function library format (Redis 7.0 RC) is not supported', base + pos - 1);
        } else {
          prog = OPCODE_PROGRAMS[op];
        }
        continue;
      }
      switch (prog[pc]) {
        case I_STR: {
          let p: number;
          let n: number;
          const b = pos < end ? buf[pos] : 0xff;
          if (b < 0x40) {
            p = pos + 1;
            n = b;
          } else {
            p = this.strHeader(buf, pos, end, base);
            if (p < 0) {
              ret = pos;
              break;
            }
            n = this.hLen;
          }
          pc++;
          if (end - p >= n) {
            pos = p + n;
            continue;
          }
          this.skip = n - (end - p);
          ret = end;
          break;
        }
        case I_KEY:
        case I_VAL:
        case I_AUXK:
        case I_AUXV: {
          const p = this.strHeader(buf, pos, end, base);
          if (p < 0) {
            ret = pos;
            break;
          }
          const op = prog[pc++];
          const target =
            op === I_KEY ? CAP_KEY : op === I_VAL ? (this.valueFits() ? CAP_VAL : CAP_NONE) : op === I_AUXK ? CAP_AUXK : CAP_AUXV;
          const n = this.hLen;
          if (end - p >= n) {
            pos = p + n;
            if (target !== CAP_NONE && this.hKind === 0) {
              // Common case: one copy, straight from the chunk (not slice(): a Buffer's is a view).
              this.capStore(target, new Uint8Array(buf.subarray(p, pos)));
            } else if (target !== CAP_NONE) {
              this.capBegin(target);
              this.capAppend(buf, p, pos);
              this.capDone(base + pos);
            }
            continue;
          }
          if (target !== CAP_NONE) {
            this.capBegin(target);
            this.capAppend(buf, p, end);
          }
          this.skip = n - (end - p);
          ret = end;
          break;
        }
        case I_LEN:
        case I_LENE:
        case I_QLEN: {
          const p = this.readLen(buf, pos, end, base);
          if (p < 0) {
            ret = pos;
            break;
          }
          this.reg = this.lval;
          if (prog[pc] === I_LENE) this.elems = this.lval;
          else if (prog[pc] === I_QLEN) this.elems = 0;
          pc++;
          pos = p;
          continue;
        }
        case I_LOOP: {
          const count = this.reg;
          if (count > MAX_SAFE) this.corrupt(`element count ${count} is impossible`, base + pos);
          if (count === 0) {
            pc += prog[pc + 1] + 3; // past I_END
          } else {
            const d = this.depth++;
            if (d >= this.loopStart.length) throw new Error('rdb: loops nested too deep');
            this.loopStart[d] = pc + 2;
            this.loopLeft[d] = count;
            pc += 2;
          }
          continue;
        }
        case I_END: {
          const d = this.depth - 1;
          if (--this.loopLeft[d] > 0) {
            pc = this.loopStart[d];
          } else {
            this.depth = d;
            pc++;
          }
          continue;
        }
        case I_SKIP: {
          const n = prog[pc + 1];
          pc += 2;
          if (end - pos >= n) {
            pos += n;
            continue;
          }
          this.skip = n - (end - pos);
          ret = end;
          break;
        }
        case I_DBL: {
          if (pos >= end) {
            ret = pos;
            break;
          }
          const n = buf[pos++];
          pc++;
          if (n === 253) this.corrupt('sorted set score is NaN', base + pos - 1);
          if (n >= 253 || end - pos >= n) {
            if (n < 253) pos += n;
            continue;
          }
          this.skip = n - (end - pos);
          ret = end;
          break;
        }
        case I_QLC: {
          const p = this.readLen(buf, pos, end, base);
          if (p < 0) {
            ret = pos;
            break;
          }
          if (this.lval !== 1 && this.lval !== 2) this.corrupt(`unknown quicklist container ${this.lval}`, base + pos);
          this.qlPlain = this.lval === 1;
          pc++;
          pos = p;
          continue;
        }
        case I_MOD: {
          const r = this.moduleStep(buf, pos, end, base);
          if (r < 0) {
            ret = pos;
            break;
          }
          if (this.modEof) {
            this.modEof = false;
            pc++;
          }
          if (r > end) {
            // A string operand runs past this chunk.
            this.skip = r - end;
            ret = end;
            break;
          }
          pos = r;
          continue;
        }
        case I_SCORE: {
          if (end - pos < 8) {
            ret = pos;
            break;
          }
          // Little-endian IEEE 754: NaN has all exponent bits set and a non-zero mantissa.
          const hi = buf[pos + 7] & 0x7f;
          if (hi === 0x7f && (buf[pos + 6] & 0xf0) === 0xf0
            && ((buf[pos + 6] & 0x0f) | buf[pos + 5] | buf[pos + 4] | buf[pos + 3] | buf[pos + 2] | buf[pos + 1] | buf[pos]) !== 0) {
            this.corrupt('sorted set score is NaN', base + pos);
          }
          pos += 8;
          pc++;
          continue;
        }
        case I_BLOB: {
          const p = this.strHeader(buf, pos, end, base);
          if (p < 0) {
            ret = pos;
            break;
          }
          this.blobKind = prog[pc + 1];
          this.blobAt = base + pos;
          pc += 2;
          const n = this.hLen;
          if (end - p >= n) {
            pos = p + n;
            if (this.hKind === 0) {
              // A plain view: cheaper than a Buffer's subarray, and nothing is copied.
              this.checkBlob(new Uint8Array(buf.buffer, buf.byteOffset + p, n));
            } else {
              this.capBegin(CAP_BLOB);
              this.capAppend(buf, p, pos);
              this.capDone(base + pos);
            }
            continue;
          }
          this.capBegin(CAP_BLOB);
          this.capAppend(buf, p, end);
          this.skip = n - (end - p);
          ret = end;
          break;
        }
        case I_EXP4:
        case I_EXP8: {
          const n = prog[pc] === I_EXP4 ? 4 : 8;
          if (end - pos < n) {
            ret = pos;
            break;
          }
          const lo = (buf[pos] | (buf[pos + 1] << 8) | (buf[pos + 2] << 16) | (buf[pos + 3] << 24)) >>> 0;
          if (n === 4) {
            this.expireAt = lo * 1000;
          } else {
            const hi = buf[pos + 4] | (buf[pos + 5] << 8) | (buf[pos + 6] << 16) | (buf[pos + 7] << 24);
            this.expireAt = hi * 4294967296 + lo;
          }
          pos += n;
          pc++;
          continue;
        }
        case I_SELECT:
        case I_RSZ_K:
        case I_RSZ_E:
        case I_WHEN: {
          const p = this.readLen(buf, pos, end, base);
          if (p < 0) {
            ret = pos;
            break;
          }
          const v = this.lval;
          const op = prog[pc];
          if (op === I_SELECT) {
            if (v > 0xffffffff) this.corrupt(`impossible database number ${v}`, base + pos);
            this.selectDb(v);
          } else if (op === I_RSZ_K) {
            this.rszKeys = v;
          } else if (op === I_RSZ_E) {
            this.hints.set(this.db, { keys: this.rszKeys, expires: v });
          } else if (v !== 2) {
            this.corrupt(`module aux 'when' opcode is ${v}, expected 2`, base + pos);
          }
          pc++;
          pos = p;
          continue;
        }
        case I_KEYDONE: // always last in a key program
          this.keyDone();
          prog = null;
          continue;
        case I_DONE:
          prog = null;
          continue;
        default:
          throw new Error(`rdb: bad instruction ${prog[pc]}`);
      }
      break; // only reached from `ret = …; break;` inside the switch
    }
    this.prog = prog;
    this.pc = pc;
    return ret;
  }

  /** Parses "REDIS" + 4 digits. Returns the new position, or -1 if incomplete. */
  private header(buf: Uint8Array, pos: number, end: number, base: number): number {
    const avail = Math.min(end - pos, 9);
    // Check what has arrived so far, so a wrong stream is refused on its first bytes.
    for (let i = 0; i < avail; i++) {
      const b = buf[pos + i];
      if (i < 5 ? b !== 'REDIS'.charCodeAt(i) : b < 0x30 || b > 0x39) {
        const got = Array.from(buf.subarray(pos, pos + avail), (x) => (x >= 0x20 && x < 0x7f ? String.fromCharCode(x) : '.')).join('');
        throw new RdbError('BAD_MAGIC', `not an RDB stream: header starts with "${got}" at byte ${base + pos}, expected "REDIS" and a 4-digit version`);
      }
    }
    if (avail < 9) return -1;
    let v = 0;
    for (let i = 5; i < 9; i++) v = v * 10 + (buf[pos + i] - 0x30);
    if (v > this.maxVersion || v < 1) {
      throw new RdbError('UNSUPPORTED_VERSION', `RDB version ${v} is not supported: this verifier accepts versions 1 to ${this.maxVersion}`);
    }
    this.version = v;
    this.trailer = v >= 5 ? 8 : 0;
    this.phase = P_BODY;
    return pos + 9;
  }

  /** Reads an RDB length into this.lval. Returns the new position, or -1 if incomplete. */
  private readLen(buf: Uint8Array, pos: number, end: number, base: number): number {
    if (pos >= end) return -1;
    const b = buf[pos];
    const t = b >> 6;
    if (t === 0) {
      this.lval = b;
      return pos + 1;
    }
    if (t === 1) {
      if (end - pos < 2) return -1;
      this.lval = ((b & 0x3f) << 8) | buf[pos + 1];
      return pos + 2;
    }
    if (b === 0x80) {
      if (end - pos < 5) return -1;
      this.lval = ((buf[pos + 1] << 24) | (buf[pos + 2] << 16) | (buf[pos + 3] << 8) | buf[pos + 4]) >>> 0;
      return pos + 5;
    }
    if (b === 0x81) {
      if (end - pos < 9) return -1;
      const hi = ((buf[pos + 1] << 24) | (buf[pos + 2] << 16) | (buf[pos + 3] << 8) | buf[pos + 4]) >>> 0;
      const lo = ((buf[pos + 5] << 24) | (buf[pos + 6] << 16) | (buf[pos + 7] << 8) | buf[pos + 8]) >>> 0;
      // Beyond 2^53 only stream ids are legitimate, and those are never used as counts.
      this.lval = hi * 4294967296 + lo;
      return pos + 9;
    }
    return this.corrupt(`invalid length encoding 0x${b.toString(16)}`, base + pos);
  }

  /**
   * Reads a string header (plain length, integer encoding or LZF header) into hKind,
   * hLen (payload bytes that follow), hInt, hUlen. Returns the new position or -1.
   */
  private strHeader(buf: Uint8Array, pos: number, end: number, base: number): number {
    if (pos >= end) return -1;
    const b = buf[pos];
    if (b < 0x40) {
      // Fast path: 6-bit length, by far the most common.
      this.hKind = 0;
      this.hLen = b;
      return pos + 1;
    }
    if (b >> 6 !== 3) {
      const p = this.readLen(buf, pos, end, base);
      if (p < 0) return -1;
      if (this.lval > MAX_SAFE) this.corrupt(`impossible string length ${this.lval}`, base + pos);
      this.hKind = 0;
      this.hLen = this.lval;
      return p;
    }
    const enc = b & 0x3f;
    if (enc <= 2) {
      const n = 1 << enc; // int8, int16, int32, little-endian
      if (end - pos < 1 + n) return -1;
      let v: number;
      if (n === 1) v = (buf[pos + 1] << 24) >> 24;
      else if (n === 2) v = ((buf[pos + 1] | (buf[pos + 2] << 8)) << 16) >> 16;
      else v = buf[pos + 1] | (buf[pos + 2] << 8) | (buf[pos + 3] << 16) | (buf[pos + 4] << 24);
      this.hKind = 1;
      this.hInt = v;
      this.hLen = 0;
      return pos + 1 + n;
    }
    if (enc === 3) {
      // LZF: compressed length, uncompressed length, compressed bytes (skipped as-is).
      const p1 = this.readLen(buf, pos + 1, end, base);
      if (p1 < 0) return -1;
      const clen = this.lval;
      const p2 = this.readLen(buf, p1, end, base);
      if (p2 < 0) return -1;
      if (clen > MAX_SAFE || clen === 0) this.corrupt(`impossible LZF compressed length ${clen}`, base + pos);
      this.hKind = 2;
      this.hLen = clen;
      this.hUlen = this.lval;
      return p2;
    }
    return this.corrupt(`unknown string encoding ${enc}`, base + pos);
  }

  /**
   * One step of a module value (RDB_MODULE_OPCODE_*): an opcode, or the operand of the
   * pending one. Returns the new position (possibly beyond `end` when a string payload
   * continues in later chunks; the caller turns that into a skip), or -1 if incomplete.
   */
  private moduleStep(buf: Uint8Array, pos: number, end: number, base: number): number {
    if (this.modOp === 0) {
      const p = this.readLen(buf, pos, end, base);
      if (p < 0) return -1;
      const op = this.lval;
      if (op === 0) {
        this.modEof = true;
        return p;
      }
      if (op > 5) this.corrupt(`unknown module opcode ${op}`, base + pos);
      this.modOp = op;
      return p;
    }
    let p: number;
    switch (this.modOp) {
      case 1: // signed int
      case 2: // unsigned int
        p = this.readLen(buf, pos, end, base);
        break;
      case 3: // float
        p = end - pos >= 4 ? pos + 4 : -1;
        break;
      case 4: // double
        p = end - pos >= 8 ? pos + 8 : -1;
        break;
      default: // string
        p = this.strHeader(buf, pos, end, base);
        if (p >= 0) p += this.hLen;
    }
    if (p >= 0) this.modOp = 0;
    return p;
  }

  private unknownType(type: number, at: number): void {
    if (type === 6) {
      this.abandon(`module value (pre-GA module type 6) at byte ${at} cannot be skipped without its module`);
    } else if (this.version > KNOWN_VERSION) {
      this.abandon(`unknown value type ${type} at byte ${at} in RDB version ${this.version} (newer than ${KNOWN_VERSION})`);
    } else {
      this.corrupt(`unknown opcode or value type ${type}`, at);
    }
  }

  /** Stops structural parsing; the checksum and framing are still verified at the end. */
  private abandon(reason: string): void {
    this.phase = P_SKIPPED;
    this.skippedReason = reason;
    this.prog = null;
    this.carryLen = 0;
  }

  private selectDb(db: number): void {
    this.db = db;
    this.dbCounts = null;
  }

  private keyDone(): void {
    if (this.elems === 0) {
      // rdb.c "empty keys skipped": Redis drops an empty collection and loads the rest.
      this.elems = -1;
      this.emptySkipped++;
      this.expireAt = -1;
      this.key = null;
      return;
    }
    this.elems = -1;
    let c = this.dbCounts;
    if (c === null) {
      c = this.counts.get(this.db) ?? { keys: 0, expires: 0 };
      this.counts.set(this.db, c);
      this.dbCounts = c;
    }
    c.keys++;
    const exp = this.expireAt;
    if (exp >= 0) c.expires++;
    // Out of line: a small keyDone is inlined into the hot loop (measurably faster).
    if (this.notify) this.report(exp);
    this.expireAt = -1;
  }

  private report(exp: number): void {
    if (exp >= 0 && this.onExpire) this.onExpire(this.db, exp);
    const key = this.key;
    if (key === null) return; // not picked
    const k: RdbKey = { db: this.db, key, type: this.keyType };
    if (exp >= 0) k.expireAtMs = exp;
    if (this.value !== undefined) k.value = this.value;
    this.key = null;
    this.value = undefined;
    this.onKey!(k);
  }

  /** Whether the string whose header was just read may be kept as a value. */
  private valueFits(): boolean {
    const max = this.maxValueBytes;
    if (this.hKind === 1) return String(this.hInt).length <= max;
    // LZF holds both the compressed bytes and the output.
    return this.hLen <= max && (this.hKind === 0 || this.hUlen <= max);
  }

  /** Checks a compact encoding as Redis's loader does, and counts its elements. */
  private checkBlob(b: Uint8Array): void {
    const type = this.keyType;
    const what = ENCODING_NAMES[type] ?? `type ${type}`;
    try {
      switch (this.blobKind) {
        case BLOB_ZIPMAP:
          validateZipmap(b, what);
          break;
        case BLOB_INTSET:
          validateIntset(b, what);
          break;
        case BLOB_LIST_ZIPLIST:
        case BLOB_PAIRS_ZIPLIST:
          this.elems = validateZiplist(b, what, this.blobKind === BLOB_PAIRS_ZIPLIST);
          break;
        case BLOB_PAIRS_LISTPACK:
        case BLOB_SET_LISTPACK:
          this.elems = validateListpack(b, what, this.blobKind === BLOB_PAIRS_LISTPACK ? 'pairs' : 'all');
          break;
        case BLOB_QUICKLIST_ZIPLIST:
        case BLOB_QUICKLIST2_NODE:
          // An empty node string fails the load; an empty ziplist/listpack node is dropped.
          if (b.length === 0) throw new EncodingError(`${what}: empty quicklist node`);
          if (this.blobKind === BLOB_QUICKLIST_ZIPLIST) this.elems += validateZiplist(b, what);
          else this.elems += this.qlPlain ? 1 : validateListpack(b, what);
          break;
        case BLOB_STREAM_ID:
          if (b.length !== 16) throw new EncodingError(`stream node key is ${b.length} bytes, not a 16-byte stream id`);
          break;
        default: // BLOB_STREAM_LISTPACK
          validateStreamListpack(b, what);
      }
    } catch (e) {
      if (e instanceof EncodingError) this.corrupt(e.message, this.blobAt);
      throw e;
    }
  }

  // ---- captured strings -----------------------------------------------------

  private capBegin(target: number): void {
    this.cap = target;
    this.capLen = 0;
    this.capKind = this.hKind;
    this.capUlen = this.hUlen;
    if (this.hKind === 1) {
      // Integer-encoded: the text is the decimal rendering.
      const s = String(this.hInt);
      for (let i = 0; i < s.length; i++) this.capByte(s.charCodeAt(i));
    }
  }

  private capByte(b: number): void {
    if (this.capLen === this.capBuf.length) this.grow(this.capLen + 1);
    this.capBuf[this.capLen++] = b;
  }

  /** Appends payload bytes; the buffer grows with what actually arrived, not with claims. */
  private capAppend(buf: Uint8Array, from: number, to: number): void {
    const n = to - from;
    if (this.capLen + n > this.capBuf.length) this.grow(this.capLen + n);
    this.capBuf.set(buf.subarray(from, to), this.capLen);
    this.capLen += n;
  }

  private grow(min: number): void {
    let size = this.capBuf.length * 2;
    while (size < min) size *= 2;
    const b = new Uint8Array(size);
    b.set(this.capBuf.subarray(0, this.capLen));
    this.capBuf = b;
  }

  private capDone(at: number): void {
    let bytes: Uint8Array;
    if (this.capKind === 2) {
      bytes = lzfDecompress(this.capBuf.subarray(0, this.capLen), this.capUlen);
      if (bytes.length === 0 && this.capUlen !== 0) this.corrupt('invalid LZF data in a captured string', at);
    } else if (this.cap === CAP_BLOB) {
      bytes = this.capBuf.subarray(0, this.capLen); // checked here, never kept
    } else {
      bytes = this.capBuf.slice(0, this.capLen);
    }
    const target = this.cap;
    this.cap = CAP_NONE;
    this.capStore(target, bytes);
    // A huge compact value should not pin its buffer for the rest of the stream.
    if (this.capBuf.length > 1 << 20) this.capBuf = new Uint8Array(256);
  }

  private capStore(target: number, bytes: Uint8Array): void {
    if (target === CAP_KEY) this.key = bytes;
    else if (target === CAP_VAL) this.value = bytes;
    else if (target === CAP_BLOB) this.checkBlob(bytes);
    else if (target === CAP_AUXK) this.auxKey = latin1(bytes);
    else this.aux[this.auxKey] = latin1(bytes);
  }
}

/** LZF (liblzf) decompression for captured strings; returns an empty array on bad input. */
function lzfDecompress(src: Uint8Array, outLen: number): Uint8Array {
  // Each 3-byte back-reference yields at most 264 bytes: refuse impossible claims early.
  if (outLen > src.length * 88 + 32) return new Uint8Array(0);
  const out = new Uint8Array(outLen);
  let ip = 0;
  let op = 0;
  while (ip < src.length) {
    const ctrl = src[ip++];
    if (ctrl < 32) {
      const n = ctrl + 1;
      if (op + n > outLen || ip + n > src.length) return new Uint8Array(0);
      out.set(src.subarray(ip, ip + n), op);
      ip += n;
      op += n;
    } else {
      let len = ctrl >> 5;
      if (ip >= src.length) return new Uint8Array(0);
      if (len === 7) {
        len += src[ip++];
        if (ip >= src.length) return new Uint8Array(0);
      }
      let ref = op - ((ctrl & 0x1f) << 8) - 1 - src[ip++];
      len += 2;
      if (ref < 0 || op + len > outLen) return new Uint8Array(0);
      while (len--) out[op++] = out[ref++]; // may overlap: byte by byte
    }
  }
  return op === outLen ? out : new Uint8Array(0);
}

/** Aux fields are ASCII in practice; latin1 keeps any odd byte visible without a decoder. */
function latin1(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 4096) s += String.fromCharCode(...b.subarray(i, i + 4096));
  return s;
}

/** Redis's names for the encodings, as in its load errors. */
const ENCODING_NAMES: Record<number, string> = {
  9: 'Zipmap', 10: 'List ziplist', 11: 'Intset', 12: 'Zset ziplist', 13: 'Hash ziplist', 14: 'Ziplist (quicklist node)',
  15: 'Stream listpack', 16: 'Hash listpack', 17: 'Zset listpack', 18: 'Listpack (quicklist node)', 19: 'Stream listpack',
  20: 'Set listpack', 21: 'Stream listpack',
};

function toRecord(m: Map<number, Counts>): Record<number, Counts> {
  const r: Record<number, Counts> = {};
  for (const [k, v] of [...m].sort((a, b) => a[0] - b[0])) r[k] = { ...v };
  return r;
}
