// Picks a uniform random sample of keys while a snapshot streams (reservoir sampling, decided
// before a key is read so unpicked keys cost nothing) and records what a restore can check
// against the live Redis: the key's type, its expire time, and for strings a SHA-256 of the value.
import { createHash } from 'node:crypto';
import type { KeySample } from '../lib/manifest';
import type { RdbKey, RdbVerifierOptions } from '../lib/rdb';

/** Redis TYPE names by RDB value type (rdb.h RDB_TYPE_*). */
const TYPE_NAMES: Record<number, string> = {
  0: 'string',
  1: 'list', 10: 'list', 14: 'list', 18: 'list',
  2: 'set', 11: 'set', 20: 'set',
  3: 'zset', 5: 'zset', 12: 'zset', 17: 'zset',
  4: 'hash', 9: 'hash', 13: 'hash', 16: 'hash', 22: 'hash', 23: 'hash', 24: 'hash', 25: 'hash',
  15: 'stream', 19: 'stream', 21: 'stream',
  6: 'module', 7: 'module',
};

export function redisTypeName(rdbType: number): string {
  return TYPE_NAMES[rdbType] ?? `rdb-type-${rdbType}`;
}

export class KeySampler {
  private seen = 0;
  private slot = -1;
  private readonly picked: KeySample[] = [];

  constructor(private readonly size = 32) {}

  /** Hooks for RdbVerifier: pick before the key is read, record once it has been. */
  hooks(): Pick<RdbVerifierOptions, 'pickKey' | 'onKey'> {
    return {
      pickKey: () => {
        this.seen++;
        if (this.seen <= this.size) this.slot = this.seen - 1;
        else {
          const j = Math.floor(Math.random() * this.seen);
          this.slot = j < this.size ? j : -1;
        }
        return this.slot >= 0;
      },
      onKey: (k: RdbKey) => {
        const s: KeySample = { db: k.db, key: Buffer.from(k.key).toString('base64'), type: redisTypeName(k.type) };
        if (k.expireAtMs !== undefined) s.expireAtMs = k.expireAtMs;
        if (k.value) s.sha256 = createHash('sha256').update(k.value).digest('hex');
        this.picked[this.slot] = s;
      },
    };
  }

  samples(): KeySample[] {
    return this.picked.filter(Boolean);
  }
}
