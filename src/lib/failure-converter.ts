// Failures with their message and stack trace moved into an encoded payload, so the payload codec
// encrypts them too (they name hosts, paths and keys). Bundled into the workflow code
// (failureConverterPath) and loaded by the worker and the CLI: pure, no Node built-ins.
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
