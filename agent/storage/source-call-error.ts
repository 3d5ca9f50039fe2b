// A failed call to another remote's storage agent (a mirror's source), classified at the boundary
// by gRPC status and the source's own error code (the `deltachain-error-code` trailer). The
// source's code is kept — a damaged source block fails the mirror as DATA_DAMAGED, a refused grant
// as STORAGE_ACCESS_DENIED — and so is whether trying again can help: a source that is away,
// busy, or whose chain a merge changed under the read, or a block damaged in transit, yes; damage
// on the source, a refusal, a missing backup, no. Pure apart from the error object.
import { status, type ServiceError } from '@grpc/grpc-js';
import { DeltachainError, type FailureSide } from '../../shared/errors.js';
import { ERROR_CODE_KEY } from './grpc-service.js';

export interface SourceFailureClass {
  retryable: boolean;
  side: FailureSide;
}

const UNREACHABLE = /\b(EHOSTUNREACH|ENETUNREACH|ETIMEDOUT|EAI_AGAIN|ENOTFOUND)\b/;
const AWAY = new Set<number>([status.UNAVAILABLE, status.DEADLINE_EXCEEDED, status.CANCELLED, status.ABORTED, status.RESOURCE_EXHAUSTED]);
const REFUSED = new Set<number>([status.UNAUTHENTICATED, status.PERMISSION_DENIED, status.INVALID_ARGUMENT, status.NOT_FOUND, status.FAILED_PRECONDITION, status.ALREADY_EXISTS, status.OUT_OF_RANGE]);

/** Whether a call to the source that failed so may succeed later, and which side failed. */
export function classifySourceFailure(grpcCode: number, serverCode: string | undefined, detail: string): SourceFailureClass {
  if (grpcCode === status.DATA_LOSS) {
    // Damaged on the way (the source's own receive check) vs damaged where it is stored.
    return serverCode === 'STORAGE_CHECKSUM_MISMATCH' ? { retryable: true, side: 'network' } : { retryable: false, side: 'data' };
  }
  if (grpcCode === status.UNAVAILABLE && UNREACHABLE.test(detail)) return { retryable: true, side: 'network' };
  if (AWAY.has(grpcCode)) return { retryable: true, side: 'storage' };
  if (REFUSED.has(grpcCode)) return { retryable: false, side: 'request' };
  return { retryable: false, side: 'storage' };
}

export class SourceCallError extends DeltachainError {
  override name = 'SourceCallError';
  readonly grpcCode: number;

  /** `code`: the source's own error code, else SOURCE_CALL_FAILED. */
  constructor(sourceRemoteId: string, rpc: string, grpcCode: number, detail: string, serverCode: string | undefined, cause?: unknown) {
    const verdict = classifySourceFailure(grpcCode, serverCode, detail);
    const statusName = status[grpcCode] ?? `STATUS_${grpcCode}`;
    super(serverCode ?? 'SOURCE_CALL_FAILED', `storage agent of source remote ${sourceRemoteId}: ${rpc} failed: ${statusName}: ${detail.replace(/\s*Resolution note:\s*$/, '')}`, {
      cause,
      retryable: verdict.retryable,
      side: verdict.side,
    });
    this.grpcCode = grpcCode;
  }

  static from(sourceRemoteId: string, rpc: string, error: unknown): SourceCallError {
    if (error instanceof SourceCallError) return error;
    const service = error as Partial<ServiceError>;
    if (typeof service.code !== 'number') return new SourceCallError(sourceRemoteId, rpc, status.UNKNOWN, error instanceof Error ? error.message : String(error), undefined, error);
    const serverCode = service.metadata?.get(ERROR_CODE_KEY)[0];
    return new SourceCallError(sourceRemoteId, rpc, service.code, service.details ?? service.message ?? '', typeof serverCode === 'string' ? serverCode : undefined, error);
  }
}
