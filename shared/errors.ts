// Named errors with a stable code, a cause, and whether retrying can help. Classify at the
// boundary (XAPI codes, Postgres codes, gRPC statuses) into one of these; messages say what the
// operator should do next.

/**
 * Which side of a transfer failed, so that the advice fits (proto TaskError.side): the pool (XAPI,
 * the VM, its SR), the storage agent, the network between them, the remote's file system being
 * full, the backup data itself (damaged or inconsistent), or the request (refused as invalid).
 */
export type FailureSide = 'pool' | 'storage' | 'network' | 'remote-full' | 'data' | 'request';

export const FAILURE_SIDES: readonly FailureSide[] = ['pool', 'storage', 'network', 'remote-full', 'data', 'request'];

/** A side as it came from the wire, or undefined when empty or unknown (an older or newer agent). */
export function failureSideOf(value: string | undefined): FailureSide | undefined {
  return FAILURE_SIDES.find((side) => side === value);
}

export interface DeltachainErrorOptions {
  cause?: unknown;
  /** True when the same operation may succeed if tried again later. */
  retryable?: boolean;
  side?: FailureSide;
}

export class DeltachainError extends Error {
  override name = 'DeltachainError';
  readonly code: string;
  readonly retryable: boolean;
  readonly side: FailureSide | undefined;

  constructor(code: string, message: string, options: DeltachainErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.side = options.side;
  }
}

/** A configuration file or value is wrong; the message names the field. */
export class ConfigError extends DeltachainError {
  override name = 'ConfigError';
  constructor(message: string, options: DeltachainErrorOptions = {}) {
    super('CONFIG_INVALID', message, options);
  }
}

/** Input from outside (a file, a stream, a request) is malformed or hostile. */
export class InvalidInputError extends DeltachainError {
  override name = 'InvalidInputError';
  constructor(message: string, options: DeltachainErrorOptions = {}) {
    super('INVALID_INPUT', message, options);
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
