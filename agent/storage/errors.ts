// The storage agent's named errors. Each carries a stable `code`, the gRPC status it maps to at
// the service boundary (grpc-service.ts) and the side that failed (shared/errors.ts), so a client
// gets e.g. INVALID_ARGUMENT with a message naming the field, never an INTERNAL for a bad request.
import { status } from '@grpc/grpc-js';
import { DeltachainError, type DeltachainErrorOptions } from '../../shared/errors.js';

export class StorageError extends DeltachainError {
  override name = 'StorageError';
  readonly grpcStatus: status;
  constructor(code: string, grpcStatus: status, message: string, options: DeltachainErrorOptions = {}) {
    super(code, message, options);
    this.grpcStatus = grpcStatus;
  }
}

/** The request breaks a rule (bad id, size, index, order); nothing was written. */
export class StorageRequestError extends StorageError {
  override name = 'StorageRequestError';
  constructor(message: string, options: DeltachainErrorOptions = {}) {
    super('STORAGE_INVALID_REQUEST', status.INVALID_ARGUMENT, message, { side: 'request', ...options });
  }
}

/** Something the request names (backup, disk, parent) does not exist on this remote. */
export class StorageNotFoundError extends StorageError {
  override name = 'StorageNotFoundError';
  constructor(message: string, options: DeltachainErrorOptions = {}) {
    super('STORAGE_NOT_FOUND', status.NOT_FOUND, message, { side: 'request', ...options });
  }
}

/** The request conflicts with what is already there (committed backup, duplicate uuid, busy). */
export class StorageConflictError extends StorageError {
  override name = 'StorageConflictError';
  constructor(message: string, options: DeltachainErrorOptions = {}) {
    super('STORAGE_CONFLICT', status.FAILED_PRECONDITION, message, { side: 'request', ...options });
  }
}

/** A commit's sent disks (footer uuid, virtual size, digest) differ from the files received. */
export class StorageSentMismatchError extends StorageError {
  override name = 'StorageSentMismatchError';
  constructor(message: string, options: DeltachainErrorOptions = {}) {
    super('SENT_DISK_MISMATCH', status.FAILED_PRECONDITION, message, { side: 'request', ...options });
  }
}

/** The disk is being received by another upload right now; trying again later can succeed. */
export class StorageBusyError extends StorageError {
  override name = 'StorageBusyError';
  constructor(message: string, options: DeltachainErrorOptions = {}) {
    super('UPLOAD_IN_PROGRESS', status.ABORTED, message, { retryable: true, side: 'storage', ...options });
  }
}

/** Received data does not match its checksum or digest; nothing was kept. */
export class StorageChecksumError extends StorageError {
  override name = 'StorageChecksumError';
  constructor(message: string, options: DeltachainErrorOptions = {}) {
    super('STORAGE_CHECKSUM_MISMATCH', status.DATA_LOSS, message, { retryable: true, side: 'data', ...options });
  }
}

/** The remote's files are not as the format says (docs/remote-format.md). */
export class RemoteFormatError extends StorageError {
  override name = 'RemoteFormatError';
  constructor(message: string, options: DeltachainErrorOptions = {}) {
    super('REMOTE_FORMAT_INVALID', status.INTERNAL, message, { side: 'data', ...options });
  }
}

/**
 * Stored data does not match the checksums recorded when it was committed (a flipped byte, a
 * damaged `.sums` file): nothing that reads it can be trusted, and retrying reads the same bytes.
 * gRPC DATA_LOSS; the message names backup, disk, file, block and the backups that depend on the
 * file, and says what to do (data-damage.ts builds it).
 */
export class StorageDataError extends StorageError {
  override name = 'StorageDataError';
  constructor(message: string, options: DeltachainErrorOptions = {}) {
    super('DATA_DAMAGED', status.DATA_LOSS, message, { ...options, retryable: false, side: 'data' });
  }
}

/** A merge changed the chain's files while they were read; reading again gives consistent data. */
export class StorageChainChangedError extends StorageError {
  override name = 'StorageChainChangedError';
  constructor(message: string, options: DeltachainErrorOptions = {}) {
    super('STORAGE_CHAIN_CHANGED', status.ABORTED, message, { ...options, retryable: true, side: 'storage' });
  }
}

/**
 * The caller may not make this call (docs/security.md, "Data plane"): no certificate identity
 * (UNAUTHENTICATED), or a role or grant that does not allow it (PERMISSION_DENIED). The message
 * says which role or grant was missing; nothing was read or written.
 */
export class StorageAccessError extends StorageError {
  override name = 'StorageAccessError';
  constructor(grpcStatus: status.UNAUTHENTICATED | status.PERMISSION_DENIED, message: string, options: DeltachainErrorOptions = {}) {
    super('STORAGE_ACCESS_DENIED', grpcStatus, message, { side: 'request', ...options });
  }
}

/** A caller is past its share of the agent (concurrent uploads) or let a stream go idle. */
export class StorageLimitError extends StorageError {
  override name = 'StorageLimitError';
  constructor(message: string, options: DeltachainErrorOptions = {}) {
    super('STORAGE_LIMIT', status.RESOURCE_EXHAUSTED, message, { retryable: true, side: 'storage', ...options });
  }
}
