// Errors of the catalogue, classified at the boundary from Postgres SQLSTATE codes: a unique
// violation is a conflict the caller can explain ("a pool named X exists"), a check or foreign
// key violation is bad input, lost connections and serialization failures are worth a retry.
import { DeltachainError, type DeltachainErrorOptions } from '../../shared/errors.js';

/** SQLSTATE codes after which the same statement may succeed when tried again. */
export const RETRYABLE_SQLSTATES: ReadonlySet<string> = new Set([
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '55P03', // lock_not_available
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '53300', // too_many_connections
  '08000', // connection_exception
  '08003', // connection_does_not_exist
  '08006', // connection_failure
  '08001', // sqlclient_unable_to_establish_sqlconnection
  '08004', // sqlserver_rejected_establishment_of_sqlconnection
]);

const RETRYABLE_NODE_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
]);

export class CatalogueError extends DeltachainError {
  override name = 'CatalogueError';
  constructor(code: string, message: string, options: DeltachainErrorOptions = {}) {
    super(code, message, options);
  }
}

/** The thing asked for does not exist (a policy, a run, a backup…). */
export class NotFoundError extends CatalogueError {
  override name = 'NotFoundError';
  constructor(message: string, options: DeltachainErrorOptions = {}) {
    super('NOT_FOUND', message, options);
  }
}

/** The change would break a rule of the catalogue (a duplicate name, a remote still in use…). */
export class ConflictError extends CatalogueError {
  override name = 'ConflictError';
  constructor(message: string, options: DeltachainErrorOptions = {}) {
    super('CONFLICT', message, options);
  }
}

/** The database cannot be reached or refused the statement for a passing reason. */
export class CatalogueUnavailableError extends CatalogueError {
  override name = 'CatalogueUnavailableError';
  constructor(message: string, options: DeltachainErrorOptions = {}) {
    super('CATALOG_UNAVAILABLE', message, { ...options, retryable: true });
  }
}

interface PgLikeError {
  code?: unknown;
  constraint_name?: unknown;
  detail?: unknown;
  message?: unknown;
}

/** The SQLSTATE of a Postgres error, or undefined for anything else. */
export function sqlState(error: unknown): string | undefined {
  const code = (error as PgLikeError | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** The name of the constraint a Postgres error reports, if any. */
export function violatedConstraint(error: unknown): string | undefined {
  const name = (error as PgLikeError | null)?.constraint_name;
  return typeof name === 'string' ? name : undefined;
}

export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  return sqlState(error) === '23505' && (constraint === undefined || violatedConstraint(error) === constraint);
}

/** Postgres aborted the transaction for a concurrent one (deadlock, serialization failure): it did not happen, and may be run again. */
export function isConcurrencyAbort(error: unknown): boolean {
  const state = sqlState(error);
  return state === '40P01' || state === '40001';
}

export function isRetryableCatalogueError(error: unknown): boolean {
  const state = sqlState(error);
  if (state !== undefined) return RETRYABLE_SQLSTATES.has(state) || state.startsWith('08');
  const code = (error as PgLikeError | null)?.code;
  return typeof code === 'string' && RETRYABLE_NODE_CODES.has(code);
}

/**
 * Turns a driver error into a catalogue error whose message says what happened; `what` names
 * the operation ("adding pool lab"). Errors that are already ours pass through.
 */
export function classifyCatalogueError(error: unknown, what: string): DeltachainError {
  if (error instanceof DeltachainError) return error;
  const state = sqlState(error);
  const detail = (error as PgLikeError | null)?.detail;
  const why = typeof detail === 'string' && detail !== '' ? detail : String((error as Error)?.message ?? error);
  if (state === '23505') return new ConflictError(`${what}: already exists (${why})`, { cause: error });
  if (state === '23503') return new ConflictError(`${what}: ${why}`, { cause: error });
  if (state === '23514' || state === '22P02' || state === '23502') {
    return new CatalogueError('INVALID_INPUT', `${what}: rejected by the catalogue (${why})`, { cause: error });
  }
  if (isRetryableCatalogueError(error)) {
    return new CatalogueUnavailableError(`${what}: the catalogue database is unavailable (${why}); check that Postgres is running and reachable`, { cause: error });
  }
  return new CatalogueError('CATALOG_FAILED', `${what}: ${why}`, { cause: error });
}
