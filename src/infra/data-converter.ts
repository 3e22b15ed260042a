// The one DataConverter of Titan: the worker, the CLI (and the schedules it creates), the codec
// server and the tests all build theirs here, so they encode and decode alike.
import type { DataConverter } from '@temporalio/common';
import type { Keyring } from './backup-keys';
import { EncryptionCodec } from './payload-codec';

/** Bundled into the workflow code too (bundleWorkflowCode's failureConverterPath). */
export const failureConverterPath = require.resolve('../lib/failure-converter');

/** With no keyring (no temporal.encryption), payloads stay plaintext; failures are still moved into payloads. */
export function titanDataConverter(keyring: Keyring | undefined, onMissingKey?: (keyId: string, message: string) => void): DataConverter {
  return { failureConverterPath, payloadCodecs: keyring ? [new EncryptionCodec(keyring, onMissingKey)] : [] };
}
