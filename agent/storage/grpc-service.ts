// The storage agent's gRPC service (deltachain.storage.v1.StorageService): translates wire
// messages to domain inputs, runs the operation, translates results back, and maps errors to
// gRPC statuses with messages that say what was wrong (a full file system becomes
// RESOURCE_EXHAUSTED naming the remote; every DeltachainError's code also travels in the
// `deltachain-error-code` trailer, so a client tells a full remote from a busy one). Flow control: PutDisk reads the next
// message only after the previous block is written, and the call's read buffer is cut to one
// message; GetDisk writes the next message only when the transport has accepted earlier ones.
import { readFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { Metadata, status, type ServerReadableStream, type ServerWritableStream, type ServiceError, type sendUnaryData } from '@grpc/grpc-js';
import { DeltachainError, InvalidInputError, errorMessage } from '../../shared/errors.js';
import { checksumRuleToWire } from '../../shared/grpc/checksum-rule.js';
import {
  GetDiskFormat,
  type GetDiskRequest,
  type GetDiskResponse,
  type PutDiskRequest,
  type PutDiskResponse,
  type StorageServiceServer,
} from '../../shared/proto/gen/deltachain/storage/v1/storage.js';
import { commitBackup } from './commit-backup.js';
import { discardBackup } from './discard-backup.js';
import { GET_DISK_READ_AHEAD, serveBlocks, serveVhd, openBackupDisk, type BackupDisk, type ServedPart } from './serve-disk.js';
import { serveOwnBlocks } from './serve-own-disk.js';
import { DiskReceiver, validateHeader, type ReceivedDisk } from './disk-receiver.js';
import { ParkedUploads, RESUMABLE_KEY, RESUME_AFTER_KEY, RESUME_KEY, type FinishedUpload } from './parked-uploads.js';
import { StorageError, StorageNotFoundError, StorageRequestError } from './errors.js';
import { chainDigestRuleOf, readBackupMetadata } from './backup-metadata.js';
import { findBase } from './has-base.js';
import { listBackups, statRemote, summarize } from './list-backups.js';
import type { RemoteContext } from './remote-context.js';
import { asBuffer, blockFromProto, headerFromProto, partToProto, toProtoSummary } from './proto-mapping.js';
import { asRemoteFull } from './remote-full.js';
import { peerIdentity } from '../../shared/identity/index.js';
import { StorageConflictError, StorageLimitError } from './errors.js';
import { DEFAULT_UPLOAD_LIMITS, PeerUploads, idleDeadline } from './upload-limits.js';
import { encodeVhdChunkInPlace } from '../../shared/grpc/get-disk-encoding.js';
import type { FramedMessage } from '../../shared/grpc/framed-message.js';

const VHD_CHUNK = 1024 * 1024;
/** Trailer key carrying a failure's DeltachainError code (e.g. REMOTE_FULL). */
export const ERROR_CODE_KEY = 'deltachain-error-code';
/** Messages handed to the transport and not yet accepted, per GetDisk stream. */
const WRITE_WINDOW = 2;
/** Bytes before each block in its buffer for its message's frame prefix and header: one sector, so the block stays aligned for direct reads. */
export const GET_DISK_BLOCK_ROOM = 512;

export function createStorageService(ctx: RemoteContext): StorageServiceServer {
  const log = ctx.logger.child({ component: 'storage-grpc' });
  const limits = ctx.limits ?? DEFAULT_UPLOAD_LIMITS;
  const peers = new PeerUploads(limits.uploadsPerPeer);
  const parked = new ParkedUploads(log);
  const fail = (method: string, error: unknown): Partial<ServiceError> => {
    const mapped = toServiceError(error);
    if (mapped.code === status.INTERNAL) log.error({ method, err: error }, 'request failed');
    else log.info({ method, code: mapped.code, reason: mapped.details }, 'request refused');
    return mapped;
  };
  const unary = <T>(method: string, run: () => Promise<T>, callback: sendUnaryData<T>): void => {
    run().then(
      (value) => callback(null, value),
      async (error: unknown) => callback(fail(method, await asRemoteFull(ctx, error, method))),
    );
  };
  return {
    putDisk: (call, callback) => unary('PutDisk', () => receiveDisk(ctx, call, peers, parked, limits.idleSeconds), callback),
    commitBackup: (call, callback) =>
      unary(
        'CommitBackup',
        async () => {
          const r = call.request;
          const outcome = await commitBackup(ctx, {
            backupId: r.backupId,
            vmUuid: r.vmUuid,
            timestampMs: r.timestampMs,
            diskKeys: r.diskKeys,
            recordsJson: r.recordsJson,
            policyJson: r.policyJson,
            diskSources: r.diskSources,
            sentDisks: r.sentDisks.map((d) => ({ diskKey: d.diskKey, footerUuid: d.footerUuid, virtualSize: d.virtualSize, digest: Buffer.from(d.digest) })),
          });
          return {
            metadataPath: outcome.metadataPath,
            alreadyCommitted: outcome.alreadyCommitted,
            backup: toProtoSummary(summarize(ctx, outcome.metadata)),
          };
        },
        callback,
      ),
    getDisk: (call) => {
      // The chain stays read-locked until the stream ends: no merge rewrites it meanwhile.
      ctx.locks.chains.read(call.request.vmUuid, () => sendDisk(ctx, call, limits.idleSeconds)).catch((error: unknown) => {
        // grpc-js sends the status of an 'error' event (destroy() would drop it).
        if (!call.cancelled) call.emit('error', fail('GetDisk', error));
      });
    },
    hasBase: (call, callback) =>
      unary(
        'HasBase',
        async () => {
          const found = await findBase(ctx, call.request.vmUuid, call.request.footerUuid);
          return { found: found !== undefined, backupId: found?.backupId ?? '', diskKey: found?.diskKey ?? '' };
        },
        callback,
      ),
    stat: (_call, callback) => unary('Stat', () => statRemote(ctx), callback),
    listBackups: (call, callback) =>
      unary('ListBackups', async () => ({ backups: (await listBackups(ctx, call.request.vmUuid)).map(toProtoSummary) }), callback),
    // GetBackup (added by the host agent for restores): the committed metadata file, verbatim.
    getBackup: (call, callback) =>
      unary(
        'GetBackup',
        async () => {
          const { vmUuid, backupId } = call.request;
          const path = ctx.layout.metadataPath(vmUuid, backupId);
          const metadata = await readBackupMetadata(path);
          if (!metadata) throw new StorageNotFoundError(`backup ${backupId} of VM ${vmUuid} is not committed on remote ${ctx.remoteId}`);
          return { backup: toProtoSummary(summarize(ctx, metadata)), metadataJson: await readFile(path, 'utf8') };
        },
        callback,
      ),
    discardBackup: (call, callback) =>
      unary(
        'DiscardBackup',
        async () => {
          if (!call.request.keepParked) await parked.discard(call.request.vmUuid, call.request.backupId);
          return discardBackup(ctx, { vmUuid: call.request.vmUuid, backupId: call.request.backupId });
        },
        callback,
      ),
  };
}

export function toServiceError(error: unknown): Partial<ServiceError> {
  const metadata = new Metadata();
  if (error instanceof DeltachainError) metadata.set(ERROR_CODE_KEY, error.code);
  if (error instanceof StorageError) return { code: error.grpcStatus, details: error.message, metadata };
  if (error instanceof InvalidInputError) return { code: status.INVALID_ARGUMENT, details: error.message, metadata };
  if (error instanceof DeltachainError && error.retryable) return { code: status.UNAVAILABLE, details: error.message, metadata };
  return { code: status.INTERNAL, details: `storage agent error: ${errorMessage(error)}`, metadata };
}

/** At most one received message waits in the call's buffer (grpc-js defaults to 16): a server call's or a client stream's. */
export function limitReadBuffer(call: Readable): void {
  const state = (call as unknown as { _readableState?: { highWaterMark: number } })._readableState;
  if (state) state.highWaterMark = 1;
}

/** Who a call counts against for per-caller limits: its certificate identity, else its address. */
function callerOf(call: ServerReadableStream<PutDiskRequest, PutDiskResponse>): string {
  const identity = peerIdentity(call);
  if (identity) return `caller ${identity.role}${identity.name ? `:${identity.name}` : ''}`;
  const address = call.getPeer();
  return `caller at ${address.replace(/:\d+$/, '')}`;
}

async function receiveDisk(
  ctx: RemoteContext,
  call: ServerReadableStream<PutDiskRequest, PutDiskResponse>,
  peers: PeerUploads,
  parked: ParkedUploads,
  idleSeconds: number,
): Promise<PutDiskResponse> {
  limitReadBuffer(call);
  const caller = callerOf(call);
  const release = peers.claim(caller);
  const resumable = call.metadata.get(RESUMABLE_KEY)[0] === '1';
  const resume = call.metadata.get(RESUME_KEY)[0] === '1';
  let cancelled = false;
  call.on('cancelled', () => {
    cancelled = true;
    call.destroy(new StorageRequestError(resumable ? 'the client cancelled the upload; what was received is kept for a resume' : 'the client cancelled the upload; nothing was kept'));
  });
  const idle = idleDeadline(idleSeconds, () =>
    call.destroy(new StorageLimitError(`no message for ${idleSeconds} s (storage.limits.idleSeconds): the upload was cancelled and nothing was kept`)),
  );
  let receiver: DiskReceiver | undefined;
  let received: ReceivedDisk | undefined;
  // A resume of a disk this caller's earlier stream received whole (delivered late over a link that
  // went silent): answered from that disk, nothing written (parked-uploads.ts).
  let receivedBefore: FinishedUpload | undefined;
  let unregister: (() => void) | undefined;
  let ended!: () => void;
  const handled = new Promise<void>((resolve) => (ended = resolve));
  const sendResumeAfter = (index: number): void => {
    const metadata = new Metadata();
    metadata.set(RESUME_AFTER_KEY, String(index));
    call.sendMetadata(metadata);
  };
  try {
    for await (const message of call as AsyncIterable<PutDiskRequest>) {
      idle.touch();
      const part = message.part;
      if (!part) throw new StorageRequestError('a PutDisk message has no part');
      if (received) throw new StorageRequestError('a PutDisk message came after the trailer');
      if (part.$case === 'header') {
        if (receiver || receivedBefore) throw new StorageRequestError('a second header came in one PutDisk stream');
        const header = validateHeader(headerFromProto(part.value));
        if (resume) {
          // The caller's earlier stream, still open here, is broken off first: it ends parked, or
          // — when its trailer had come — with the disk received.
          await parked.supersede(header, caller);
          receivedBefore = parked.receivedBefore(header, caller);
          if (receivedBefore) {
            sendResumeAfter(receivedBefore.lastIndex);
            continue;
          }
        }
        // A resume takes up the parked upload; any other upload of the disk replaces one.
        receiver = (await parked.take(header, caller, resume)) ?? (await DiskReceiver.start(ctx, header));
        if (resumable) unregister = parked.opened(receiver.header, caller, async () => {
          call.destroy(new Error('a resume of this upload came from the same caller over another connection'));
          await handled;
        });
        if (resume) sendResumeAfter(receiver.lastIndex);
      } else if (receivedBefore) {
        received = sameTrailer(receivedBefore, part);
      } else if (!receiver) {
        throw new StorageRequestError(`a ${part.$case} came before the header`);
      } else if (part.$case === 'block') {
        await receiver.addBlock(blockFromProto(part.value));
      } else {
        received = await receiver.finish({ blockCount: part.value.blockCount, digest: asBuffer(part.value.digest) });
        if (resumable) parked.finished({ header: receiver.header, caller, received, lastIndex: receiver.lastIndex });
      }
    }
    if (!received) throw new StorageRequestError('the stream ended before the trailer; nothing was kept');
  } catch (error) {
    // A broken stream (cut, cancelled, superseded) of a resumable upload keeps what it received; a
    // refusal of what was sent (a bad block, a full disk: the receiver aborted itself) never does.
    const broken = cancelled || call.cancelled || !(error instanceof DeltachainError);
    if (resumable && broken && receiver !== undefined && received === undefined && (await receiver.settleForResume())) {
      await parked.park(receiver, caller);
      ctx.logger.info({ vm: receiver.header.vmUuid, backupId: receiver.header.backupId, disk: receiver.header.diskKey, blocks: receiver.blocksReceived }, 'upload broken; kept for a resume');
    } else if (received === undefined) {
      await receiver?.abort();
    }
    throw error;
  } finally {
    unregister?.();
    ended();
    idle.stop();
    release();
  }
  return { path: ctx.layout.relative(received.path), fileSize: received.fileSize, blockCount: received.blockCount, digest: received.digest };
}

/**
 * A late resume's part after the header, when the disk was received whole before: only its trailer,
 * which must be the received disk's (block count and digest); anything else is refused.
 */
function sameTrailer(before: FinishedUpload, part: NonNullable<PutDiskRequest['part']>): ReceivedDisk {
  const where = `disk ${before.header.diskKey} of backup ${before.header.backupId} (VM ${before.header.vmUuid})`;
  if (part.$case !== 'trailer') throw new StorageConflictError(`${where} was received whole by an earlier stream of this upload; a ${part.$case} after its last block came`);
  const { blockCount, digest } = part.value;
  if (blockCount !== before.received.blockCount || !asBuffer(digest).equals(before.received.digest)) {
    throw new StorageConflictError(`${where} was received whole by an earlier stream of this upload, with other blocks than this resume announces (${blockCount} blocks); a received disk is never replaced — discard the backup and send it again`);
  }
  return before.received;
}

/** The GetDisk formats that send a header, blocks and a trailer: the chain folded, or the backup's own file. */
const blockFormats: Partial<Record<GetDiskFormat, (disk: BackupDisk, request: GetDiskRequest) => AsyncGenerator<ServedPart>>> = {
  [GetDiskFormat.GET_DISK_FORMAT_BLOCKS]: serveBlocks,
  [GetDiskFormat.GET_DISK_FORMAT_OWN]: serveOwnBlocks,
};

async function sendDisk(ctx: RemoteContext, call: ServerWritableStream<GetDiskRequest, GetDiskResponse>, idleSeconds: number): Promise<void> {
  const request = call.request;
  const parts = blockFormats[request.format];
  if (parts === undefined && request.format !== GetDiskFormat.GET_DISK_FORMAT_VHD) {
    throw new StorageRequestError(`format ${request.format} is not BLOCKS (1), VHD (2) or OWN (3)`);
  }
  const disk = await openBackupDisk(ctx, request);
  const { chain } = disk;
  const pending: Promise<void>[] = [];
  // grpc-js never calls a write's callback once the call is cancelled: wait on that too, or a
  // client that goes away would leave this loop (and the chain's open files) hanging.
  // A client that stops reading holds the chain's read lock and open files: after `idleSeconds`
  // without the transport accepting a message, the download is ended.
  let idle: { touch(): void; stop(): void } | undefined;
  const cancelled = new Promise<never>((_, reject) => {
    const stop = (): void => reject(new StorageRequestError('the client cancelled the download'));
    if (call.cancelled) stop();
    else call.once('cancelled', stop);
    idle = idleDeadline(idleSeconds, () =>
      reject(new StorageLimitError(`the client read nothing for ${idleSeconds} s (storage.limits.idleSeconds): the download was ended`)),
    );
  });
  cancelled.catch(() => undefined);
  const settle = (writes: Promise<unknown>): Promise<unknown> => Promise.race([writes, cancelled]);
  /** Hands the message to the transport, then waits for the window; `written` settles when the transport took it. */
  const send = async (message: GetDiskResponse | FramedMessage): Promise<{ written: Promise<void> }> => {
    if (call.cancelled || call.destroyed) throw new StorageRequestError('the client cancelled the download');
    const write = new Promise<void>((resolve, reject) =>
      // A FramedMessage is sent as it is (framed-message.ts).
      call.write(message as GetDiskResponse, (error?: Error | null) => {
        idle?.touch();
        if (error) reject(error);
        else resolve();
      }),
    );
    write.catch(() => undefined); // a write failing after a cancel is expected; the race above reports it
    pending.push(write);
    while (pending.length >= WRITE_WINDOW) await settle(pending.shift()!);
    return { written: write };
  };
  try {
    if (parts !== undefined) {
      for await (const part of parts(disk, request)) await send(partToProto(part));
    } else {
      // Each block is one message, framed in the room left before it in its buffer and sent
      // without a copy; the buffer goes back once that message was written (the HTTP/2 stream
      // sends from the buffer until then). Aligned, so that a block's newest layer is read
      // straight into them past the page cache. The stream's other chunks (footer, header, BAT)
      // are sent in pieces of at most VHD_CHUNK.
      const readAhead = ctx.restoreReadAhead ?? GET_DISK_READ_AHEAD;
      const { length, chunks, buffers: blockBuffers } = serveVhd(chain, { readAhead, blockRoom: GET_DISK_BLOCK_ROOM, pool: ctx.restoreBuffers });
      await send({ part: { $case: 'vhdStart', value: { length, virtualSize: chain.currentSize, checksumRule: checksumRuleToWire(chainDigestRuleOf(disk.record)) } } });
      try {
        for await (const chunk of chunks) {
          const buffer = blockBuffers.holder(chunk);
          if (buffer !== undefined) {
            const { written } = await send(encodeVhdChunkInPlace(buffer, chunk));
            written.then(() => blockBuffers.give(buffer), () => undefined);
            continue;
          }
          for (let at = 0; at < chunk.length; at += VHD_CHUNK) await send({ part: { $case: 'vhdChunk', value: chunk.subarray(at, at + VHD_CHUNK) } });
        }
      } finally {
        await chunks.return(undefined);
        // Blocks still in the transport go back when their write calls back; none when cancelled.
        blockBuffers.close();
      }
    }
    await settle(Promise.all(pending));
    call.end();
  } finally {
    idle?.stop();
    await chain.close();
  }
}
