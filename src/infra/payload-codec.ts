// The PayloadCodec that encrypts every Temporal payload Titan writes: AES-256-GCM, a random
// 12-byte nonce per payload, the key id in the payload's metadata and bound as associated data.
// The whole original payload (metadata and data) is encrypted, so even its encoding is hidden.
// Payloads that are not `binary/encrypted` (histories from before encryption) pass through.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { ApplicationFailure, type Payload, type PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { Keyring } from './backup-keys';
import { ErrorType } from '../lib/errors';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

const text = (b: Uint8Array | null | undefined) => (b ? Buffer.from(b).toString('utf8') : undefined);

/** The key id an encrypted payload names, undefined for a plaintext one. */
export function payloadKeyId(p: Payload): string | undefined {
  return text(p.metadata?.encoding) === ENCRYPTED_ENCODING ? text(p.metadata?.[KEY_ID_METADATA]) ?? '' : undefined;
}

export class EncryptionCodec implements PayloadCodec {
  /** `onMissingKey` is told (once per id) when a payload names a key this process lacks. */
  constructor(private readonly keyring: Keyring, private readonly onMissingKey?: (keyId: string, message: string) => void) {
    // A worker or CLI without its current key refuses to start rather than fail every task.
    keyring.key(keyring.current ?? '');
  }

  private readonly reported = new Set<string>();

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const keyId = this.keyring.current!;
    const key = this.keyring.key(keyId);
    return payloads.map((p) => {
      const nonce = randomBytes(NONCE_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, nonce);
      cipher.setAAD(Buffer.from(keyId));
      const body = cipher.update(temporal.api.common.v1.Payload.encode(p).finish());
      return {
        metadata: { encoding: Buffer.from(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: Buffer.from(keyId) },
        data: Buffer.concat([nonce, body, cipher.final(), cipher.getAuthTag()]),
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => {
      const keyId = payloadKeyId(p);
      if (keyId === undefined) return p;
      const data = Buffer.from(p.data ?? []);
      if (data.length < NONCE_BYTES + TAG_BYTES) throw decodeFailure(`an encrypted payload (key ${keyId}) is truncated`);
      const decipher = createDecipheriv('aes-256-gcm', this.key(keyId), data.subarray(0, NONCE_BYTES));
      decipher.setAAD(Buffer.from(keyId));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      let plain: Buffer;
      try {
        plain = Buffer.concat([decipher.update(data.subarray(NONCE_BYTES, data.length - TAG_BYTES)), decipher.final()]);
      } catch {
        throw decodeFailure(`an encrypted payload (key ${keyId}) fails its authentication tag: altered, or encrypted with another key of that id`);
      }
      return temporal.api.common.v1.Payload.decode(plain);
    });
  }

  private key(keyId: string): Buffer {
    try {
      return this.keyring.key(keyId);
    } catch (err) {
      const message = `cannot decode a Temporal payload: payload ${(err as Error).message} (temporal.encryption)`;
      if (!this.reported.has(keyId)) {
        this.reported.add(keyId);
        this.onMissingKey?.(keyId, message);
      }
      throw decodeFailure(message);
    }
  }
}

const decodeFailure = (message: string) => ApplicationFailure.nonRetryable(message, ErrorType.PayloadKeyMissing);

/**
 * One encrypted payload per key id found anywhere in `message` (a workflow history, a describe
 * response): what a reader needs to tell which keys a history depends on.
 */
export function encryptedPayloadsByKey(message: unknown, found = new Map<string, Payload>()): Map<string, Payload> {
  if (!message || typeof message !== 'object' || ArrayBuffer.isView(message)) return found;
  const keyId = 'metadata' in message ? payloadKeyId(message as Payload) : undefined;
  if (keyId !== undefined) {
    if (!found.has(keyId)) found.set(keyId, message as Payload);
    return found;
  }
  for (const v of Array.isArray(message) ? message : Object.values(message)) encryptedPayloadsByKey(v, found);
  return found;
}
