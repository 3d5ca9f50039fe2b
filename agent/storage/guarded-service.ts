// The storage service behind its guard: every call is admitted (call-guard.ts) before its handler
// runs, so a refused call reads and writes nothing. Unary and GetDisk calls are judged on their
// request; PutDisk on its first message, the header — read here, judged, and put back on the
// stream for the handler, which then reads the stream as if untouched. Refusals go back as
// UNAUTHENTICATED or PERMISSION_DENIED with the reason, and are logged as warnings with the peer
// (an attempt to use the data plane without the right to is worth an operator's look).
import type { Readable } from 'node:stream';
import type { Metadata, ServerReadableStream, ServerUnaryCall, ServiceError, handleUnaryCall, sendUnaryData } from '@grpc/grpc-js';
import { GRANT_METADATA_KEY } from '../../shared/grants/index.js';
import { peerIdentity } from '../../shared/identity/index.js';
import type { Logger } from '../../shared/logging/index.js';
import type { PutDiskRequest, PutDiskResponse, StorageServiceServer } from '../../shared/proto/gen/deltachain/storage/v1/storage.js';
import type { CallGuard } from './call-guard.js';
import type { StorageRpc } from './call-policy.js';
import { StorageRequestError } from './errors.js';
import { toServiceError } from './grpc-service.js';

/** How long a PutDisk stream may wait before its header, milliseconds. */
export const HEADER_WAIT_MS = 30_000;

type GuardedCall = Pick<ServerUnaryCall<unknown, unknown>, 'getAuthContext' | 'getPeer' | 'metadata'>;

export function guardStorageService(service: StorageServiceServer, guard: CallGuard, logger: Logger, headerWaitMs = HEADER_WAIT_MS): StorageServiceServer {
  const log = logger.child({ component: 'storage-access' });
  /** Undefined when the call may go on; else the status to end it with. */
  const judge = (rpc: StorageRpc, call: GuardedCall, request: unknown): Partial<ServiceError> | undefined => {
    try {
      const admitted = guard.admit({ rpc, caller: peerIdentity(call), request: request as Record<string, unknown> | undefined, grant: grantOf(call.metadata) });
      log.debug({ rpc, caller: admitted.caller, taskId: admitted.taskId }, 'call admitted');
      return undefined;
    } catch (error) {
      log.warn({ rpc, peer: call.getPeer(), reason: (error as Error).message }, 'call refused');
      return toServiceError(error);
    }
  };
  const unary =
    <Req, Res>(rpc: StorageRpc, handler: handleUnaryCall<Req, Res>): handleUnaryCall<Req, Res> =>
    (call, callback) => {
      const refusal = judge(rpc, call, call.request);
      if (refusal) callback(refusal);
      else handler(call, callback);
    };
  return {
    putDisk: (call, callback) => guardUpload(call, callback, service.putDisk, (header) => judge('PutDisk', call, header), headerWaitMs),
    commitBackup: unary('CommitBackup', service.commitBackup),
    getDisk: (call) => {
      const refusal = judge('GetDisk', call, call.request);
      if (refusal) call.emit('error', refusal);
      else service.getDisk(call);
    },
    hasBase: unary('HasBase', service.hasBase),
    stat: unary('Stat', service.stat),
    listBackups: unary('ListBackups', service.listBackups),
    getBackup: unary('GetBackup', service.getBackup),
    discardBackup: unary('DiscardBackup', service.discardBackup),
  };
}

function grantOf(metadata: Metadata): Uint8Array | undefined {
  const value = metadata.get(GRANT_METADATA_KEY)[0];
  return Buffer.isBuffer(value) ? value : undefined;
}

/**
 * Reads PutDisk's first message, judges the call on it (a header; anything else is judged as a
 * call naming nothing) and, when admitted, puts it back and runs the handler. The message is put
 * back in the same turn it was read, before the stream can announce its end.
 */
function guardUpload(
  call: ServerReadableStream<PutDiskRequest, PutDiskResponse>,
  callback: sendUnaryData<PutDiskResponse>,
  handler: StorageServiceServer['putDisk'],
  judge: (header: unknown) => Partial<ServiceError> | undefined,
  waitMs: number,
): void {
  const stream = call as unknown as Readable;
  const stop = (): void => {
    clearTimeout(timer);
    stream.off('readable', onReadable);
    stream.off('end', onEnd);
    call.off('cancelled', stop);
  };
  const decide = (first: PutDiskRequest | undefined): void => {
    stop();
    const refusal = judge(first?.part?.$case === 'header' ? first.part.value : undefined);
    if (refusal) return callback(refusal);
    if (first !== undefined) stream.unshift(first);
    handler(call, callback);
  };
  const onReadable = (): void => {
    const message = stream.read() as PutDiskRequest | null;
    if (message !== null) decide(message);
  };
  const onEnd = (): void => decide(undefined);
  const timer = setTimeout(() => {
    stop();
    callback(toServiceError(new StorageRequestError(`no PutDisk header came within ${waitMs / 1000} s; nothing was kept`)));
  }, waitMs);
  stream.on('readable', onReadable);
  stream.once('end', onEnd);
  call.once('cancelled', stop);
}
