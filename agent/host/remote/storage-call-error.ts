// A failed call to a remote's storage agent, classified at the boundary (classify-storage-error.ts)
// by gRPC status and the storage agent's own error code: the remote id, the RPC, the status name
// and the server's message, whether a later attempt can succeed, which side failed and advice.
// A full remote keeps the storage agent's code, REMOTE_FULL, so a task reports it as such.
import { status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import { DeltachainError } from '../../../shared/errors.js';
import { classifyStorageFailure } from './classify-storage-error.js';

/** Trailer key the storage agent puts its error code in (agent/storage/grpc-service.ts). */
const ERROR_CODE_KEY = 'deltachain-error-code';

export class StorageCallError extends DeltachainError {
  override name = 'StorageCallError';
  readonly remoteId: string;
  readonly rpc: string;
  /** The gRPC status name (`UNAVAILABLE`, `INVALID_ARGUMENT`, …). */
  readonly grpcStatus: string;
  readonly grpcCode: number;
  /** The storage agent's error code, when it sent one (`REMOTE_FULL`, `STORAGE_NOT_FOUND`, …). */
  readonly serverCode: string | undefined;

  constructor(remoteId: string, rpc: string, grpcCode: number, detail: string, cause?: unknown, serverCode?: string) {
    const statusName = GrpcStatus[grpcCode] ?? `STATUS_${grpcCode}`;
    // grpc-js ends a connection failure's details with an empty "Resolution note: ".
    detail = detail.replace(/\s*Resolution note:\s*$/, '');
    const verdict = classifyStorageFailure(grpcCode, serverCode, rpc, detail);
    const advice = verdict.advice === '' ? '' : ` — ${verdict.advice}`;
    super(verdict.code, `storage agent of remote ${remoteId}: ${rpc} failed: ${statusName}: ${detail}${advice}`, { cause, retryable: verdict.retryable, side: verdict.side });
    this.remoteId = remoteId;
    this.rpc = rpc;
    this.grpcStatus = statusName;
    this.grpcCode = grpcCode;
    this.serverCode = serverCode;
  }

  static from(remoteId: string, rpc: string, error: unknown): StorageCallError {
    if (error instanceof StorageCallError) return error;
    const service = error as Partial<ServiceError>;
    if (typeof service.code === 'number') {
      const serverCode = service.metadata?.get(ERROR_CODE_KEY)[0];
      return new StorageCallError(remoteId, rpc, service.code, service.details ?? service.message ?? '', error, typeof serverCode === 'string' ? serverCode : undefined);
    }
    return new StorageCallError(remoteId, rpc, GrpcStatus.UNKNOWN, error instanceof Error ? error.message : String(error), error);
  }
}
