// Failures with their message and stack trace moved into an encoded payload, so the payload codec
// encrypts them too (they name hosts, paths and keys). Bundled into the workflow code
// (failureConverterPath) and loaded by the worker and the CLI: pure, no Node built-ins.
import { ApplicationFailure, DefaultFailureConverter, type FailureConverter, type PayloadConverter, type ProtoFailure, type SerializationContext } from '@temporalio/common';
import { ErrorType } from './errors';

/**
 * Refusals written for the person at the Web UI, naming only stages and approvers: the UI's
 * Update modal shows a failure's plain message and does not decode encoded attributes
 * ("Encoded failure"), so these stay readable there. Everything else is encrypted.
 */
const READABLE_TYPES: ReadonlySet<string> = new Set([ErrorType.SignOffRefused]);

class TitanFailureConverter implements FailureConverter {
  private readonly encoded = new DefaultFailureConverter({ encodeCommonAttributes: true });
  private readonly readable = new DefaultFailureConverter();

  errorToFailure(err: unknown, payloadConverter: PayloadConverter, context?: SerializationContext): ProtoFailure {
    const readable = err instanceof ApplicationFailure && !err.cause && READABLE_TYPES.has(err.type ?? '');
    return (readable ? this.readable : this.encoded).errorToFailure(err, payloadConverter, context);
  }

  /** Both kinds decode alike: encoded attributes, when present, replace the placeholder message. */
  failureToError(failure: ProtoFailure, payloadConverter: PayloadConverter, context?: SerializationContext): Error {
    return this.encoded.failureToError(failure, payloadConverter, context);
  }
}

export const failureConverter: FailureConverter = new TitanFailureConverter();
