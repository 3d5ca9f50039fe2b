// Errors → gRPC statuses at the API boundary, and back into named errors in the client, so the
// CLI can tell "you asked for something that does not exist" from "the coordinator is down".
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { DeltachainError } from '../../shared/errors.js';
import { isRetryableCatalogueError } from '../catalogue/catalogue-errors.js';

const STATUS_BY_CODE: Record<string, status> = {
  INVALID_INPUT: status.INVALID_ARGUMENT,
  CONFIG_INVALID: status.INVALID_ARGUMENT,
  NOT_FOUND: status.NOT_FOUND,
  CONFLICT: status.ALREADY_EXISTS,
  PRECONDITION: status.FAILED_PRECONDITION,
  RUN_IN_PROGRESS: status.FAILED_PRECONDITION,
  CATALOG_UNAVAILABLE: status.UNAVAILABLE,
};

/** The gRPC error sent for an error thrown by a handler; the code travels in metadata. */
export function toServiceError(error: unknown): Partial<ServiceError> {
  const metadata = new Metadata();
  if (error instanceof DeltachainError) {
    metadata.set('deltachain-code', error.code);
    return { code: STATUS_BY_CODE[error.code] ?? status.INTERNAL, details: error.message, metadata };
  }
  if (isRetryableCatalogueError(error)) {
    // A connection to the catalogue lost under the call (a reset link, a database restart): worth a retry.
    metadata.set('deltachain-code', 'CATALOG_UNAVAILABLE');
    return { code: status.UNAVAILABLE, details: `the catalogue database did not answer (${(error as Error)?.message ?? String(error)}); try again`, metadata };
  }
  return { code: status.INTERNAL, details: `internal error: ${(error as Error)?.message ?? String(error)}`, metadata };
}

/** A failed call, as the client sees it: the coordinator's message and our stable code. */
export class ControlApiError extends DeltachainError {
  override name = 'ControlApiError';
  readonly grpcStatus: status;
  constructor(code: string, message: string, grpcStatus: status, cause?: unknown) {
    super(code, message, { cause, retryable: grpcStatus === status.UNAVAILABLE });
    this.grpcStatus = grpcStatus;
  }
}

export function fromServiceError(error: ServiceError, address: string): ControlApiError {
  const code = String(error.metadata?.get('deltachain-code')[0] ?? '');
  if (error.code === status.UNAVAILABLE && /EACCES|permission denied/i.test(error.details)) {
    return new ControlApiError('COORDINATOR_FORBIDDEN', `cannot connect to the coordinator's socket ${address.replace(/^unix:/, '')}: permission denied; run as a member of the coordinator's group (or as its user)`, error.code, error);
  }
  if (error.code === status.UNAVAILABLE && code === '') {
    const why = error.details.replace(/\s*Resolution note:.*$/s, '').replace(/^No connection established\. Last error: (Error: )?/, '').replace(/\.$/, '');
    return new ControlApiError('COORDINATOR_UNAVAILABLE', `cannot reach the coordinator at ${address} (${why}); is \`deltachain coordinator\` running there? Give --socket or --api (or DELTACHAIN_SOCKET, DELTACHAIN_API)`, error.code, error);
  }
  if (error.code === status.DEADLINE_EXCEEDED) {
    return new ControlApiError('COORDINATOR_TIMEOUT', `the coordinator at ${address} did not answer in time`, error.code, error);
  }
  return new ControlApiError(code || `GRPC_${status[error.code] ?? error.code}`, error.details || error.message, error.code, error);
}
