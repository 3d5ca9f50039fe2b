import { DeltachainError, errorMessage, type DeltachainErrorOptions } from '../errors.js';
import { NbdWireError } from './protocol.js';

/**
 * Why an NBD read failed, which decides what the caller does next:
 * - `NBD_CONNECTION_LOST`: the connection was cut, refused or went silent; reconnecting may help.
 * - `NBD_TLS_REFUSED`: TLS was asked and the server will not do it, or its certificate is not the
 *   pinned one; never retried (it is what an impostor would look like).
 * - `NBD_TLS_REQUIRED`: the server insists on TLS and none was given.
 * - `NBD_EXPORT_REFUSED`: the server refused the export (unknown name, expired session).
 * - `NBD_PROTOCOL`: the server broke the protocol (bad magic, unknown cookie, a size out of bounds).
 * - `NBD_READ_FAILED`: the server answered a read with an error.
 * - `NBD_RANGE_INVALID`: the caller asked for bytes outside the export or too many at once.
 * - `NBD_UNSUPPORTED`: the server does not offer what was asked (block status).
 */
export type NbdErrorCode =
  | 'NBD_CONNECTION_LOST'
  | 'NBD_TLS_REFUSED'
  | 'NBD_TLS_REQUIRED'
  | 'NBD_EXPORT_REFUSED'
  | 'NBD_PROTOCOL'
  | 'NBD_READ_FAILED'
  | 'NBD_RANGE_INVALID'
  | 'NBD_UNSUPPORTED';

export class NbdError extends DeltachainError {
  override name = 'NbdError';
  declare readonly code: NbdErrorCode;
  constructor(code: NbdErrorCode, message: string, options: DeltachainErrorOptions = {}) {
    const side = code === 'NBD_RANGE_INVALID' ? 'request' : code === 'NBD_CONNECTION_LOST' ? 'network' : 'pool';
    super(code, message, { side, retryable: code === 'NBD_CONNECTION_LOST', ...options });
  }
}

export function isConnectionLost(error: unknown): error is NbdError {
  return error instanceof NbdError && error.code === 'NBD_CONNECTION_LOST';
}

/** Socket errors and stream ends become NBD_CONNECTION_LOST, malformed bytes NBD_PROTOCOL; NbdErrors pass through. */
export function classifyNbdFailure(error: unknown, what: string): NbdError {
  if (error instanceof NbdError) return error;
  if (error instanceof NbdWireError) return new NbdError('NBD_PROTOCOL', `${what}: ${error.message}`, { cause: error });
  return new NbdError('NBD_CONNECTION_LOST', `${what}: ${errorMessage(error)}; check that the NBD server is reachable`, { cause: error });
}
