// Encryption keys by id, resolved inside the worker or CLI: the snapshot keys of backups.encryption
// and the Temporal payload keys of temporal.encryption (infra/payload-codec.ts).
// Key bytes never leave this process: manifests, payloads, results and messages carry the id only.
import { ApplicationFailure } from '@temporalio/common';
import type { EncryptionConfig } from '../lib/config';
import { ErrorType } from '../lib/errors';

export class Keyring {
  private readonly cache = new Map<string, Buffer>();

  /**
   * `secret` resolves an env var name (throws when unset); no config means nothing is encrypted.
   * `section` names the config section in messages; `errorType` is the failure's type.
   */
  constructor(
    private readonly config: EncryptionConfig | undefined,
    private readonly secret: (envVar: string, field: string) => string,
    private readonly section = 'backups.encryption',
    private readonly errorType: ErrorType = ErrorType.BackupKeyMissing,
  ) {}

  /** The key id new backups are encrypted with, undefined when encryption is off. */
  get current(): string | undefined {
    return this.config?.current;
  }

  /** Why a backup under `id` cannot be read here, undefined when its key is available. */
  problem(id: string): string | undefined {
    try {
      this.key(id);
      return undefined;
    } catch (err) {
      return (err as Error).message;
    }
  }

  /** The 32-byte key; fails non-retryably naming the id (never the value) when it is missing or malformed. */
  key(id: string): Buffer {
    const cached = this.cache.get(id);
    if (cached) return cached;
    const entry = this.config && Object.hasOwn(this.config.keys, id) ? this.config.keys[id] : undefined;
    if (!entry) throw this.failure(`key ${id} not configured`);
    let text: string;
    try {
      text = this.secret(entry.keyEnv, `${this.section}.keys.${id}.keyEnv`);
    } catch (err) {
      throw this.failure(`key ${id} not configured: ${(err as Error).message}`);
    }
    const key = Buffer.from(text.trim(), 'base64');
    if (key.length !== 32 || key.toString('base64') !== text.trim()) throw this.failure(`key ${id} (${entry.keyEnv}) must be 32 bytes in base64 (e.g. openssl rand -base64 32)`);
    this.cache.set(id, key);
    return key;
  }

  private failure(message: string) {
    return ApplicationFailure.nonRetryable(message, this.errorType);
  }
}
