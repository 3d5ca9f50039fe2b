// A failed call to a remote's storage agent, classified by gRPC status at the boundary: the
// remote id, the RPC, the status name and the server's message, and whether a later attempt can
// succeed (unavailable, deadline, resource exhausted, aborted). DATA_LOSS on a read is the data's
// fault (side 'data'): the stored backup is damaged, and reading it again will not help.
import { status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import { DeltachainError } from '../../../shared/errors.js';

const RETRYABLE = new Set<number>([GrpcStatus.UNAVAILABLE, GrpcStatus.DEADLINE_EXCEEDED, GrpcStatus.RESOURCE_EXHAUSTED, GrpcStatus.ABORTED]);

export class StorageCallError extends DeltachainError {
  override name = 'StorageCallError';
  readonly remoteId: string;
  readonly rpc: string;
  /** The gRPC status name (`UNAVAILABLE`, `INVALID_ARGUMENT`, …). */
  readonly grpcStatus: string;

  constructor(remoteId: string, rpc: string, grpcCode: number, detail: string, cause?: unknown) {
    const statusName = GrpcStatus[grpcCode] ?? `STATUS_${grpcCode}`;
    const retryable = RETRYABLE.has(grpcCode);
    // DATA_LOSS on a read: the stored data is damaged (on an upload it is a block damaged in transit).
    const damaged = grpcCode === GrpcStatus.DATA_LOSS && rpc !== 'PutDisk';
    const advice = retryable ? 'the storage agent is unreachable or busy; the task can be retried' : damaged ? 'the backup data on the remote is damaged' : 'the storage agent refused the request';
    super('STORAGE_CALL_FAILED', `storage agent of remote ${remoteId}: ${rpc} failed: ${statusName}: ${detail} — ${advice}`, { cause, retryable, ...(damaged ? { side: 'data' as const } : {}) });
    this.remoteId = remoteId;
    this.rpc = rpc;
    this.grpcStatus = statusName;
  }

  static from(remoteId: string, rpc: string, error: unknown): StorageCallError {
    if (error instanceof StorageCallError) return error;
    const service = error as Partial<ServiceError>;
    if (typeof service.code === 'number') return new StorageCallError(remoteId, rpc, service.code, service.details ?? service.message ?? '', error);
    return new StorageCallError(remoteId, rpc, GrpcStatus.UNKNOWN, error instanceof Error ? error.message : String(error), error);
  }
}
