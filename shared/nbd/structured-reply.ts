// Structured reply chunks (negotiated with NBD_OPT_STRUCTURED_REPLY): a read arrives as
// OFFSET_DATA and OFFSET_HOLE chunks that together must cover exactly the bytes asked, a block
// status as BLOCK_STATUS chunks, either as ERROR chunks; the chunk flagged DONE ends the reply.
// Each chunk's length is checked against what its request can legitimately carry before it is read.
import type { ByteQueue } from './byte-queue.js';
import { NbdError } from './nbd-error.js';
import * as wire from './protocol.js';

/** A stretch of the disk as base:allocation describes it. */
export interface AllocationExtent {
  /** Bytes from the start of the disk. */
  offset: number;
  /** Bytes. */
  length: number;
  /** Not allocated: reading it costs the server nothing and gives zeroes (when `zero`). */
  hole: boolean;
  /** Reads as zeroes. */
  zero: boolean;
}

/** A request's reply being put together from its chunks. */
export interface ReplyAssembly {
  kind: 'read' | 'status';
  offset: number;
  length: number;
  data?: Buffer;
  covered: number;
  extents?: AllocationExtent[];
  error?: NbdError;
}

/** Descriptors in one BLOCK_STATUS chunk, at most (a server answers one request with a few hundred at most). */
export const MAX_EXTENTS_PER_CHUNK = 65536;
const MAX_ERROR_PAYLOAD = 6 + wire.MAX_STRING_BYTES + 8;

function violation(message: string): NbdError {
  return new NbdError('NBD_PROTOCOL', `structured reply: ${message}`);
}

function payloadBound(type: number, reply: ReplyAssembly): number {
  if (type === wire.StructuredReplyType.OFFSET_DATA && reply.kind === 'read') return 8 + reply.length;
  if (type === wire.StructuredReplyType.OFFSET_HOLE && reply.kind === 'read') return 12;
  if (type === wire.StructuredReplyType.BLOCK_STATUS && reply.kind === 'status') return 4 + 8 * MAX_EXTENTS_PER_CHUNK;
  if (type === wire.StructuredReplyType.NONE) return 0;
  if (wire.isStructuredErrorType(type)) return MAX_ERROR_PAYLOAD;
  throw violation(`chunk type ${type} in reply to a ${reply.kind}`);
}

/** Where a chunk's bytes land in the read, checked to lie within it. */
function placeInRead(reply: ReplyAssembly, offset: bigint, length: number): number {
  const at = offset - BigInt(reply.offset);
  if (at < 0n || at + BigInt(length) > BigInt(reply.length) || length === 0) throw violation(`chunk of ${length} bytes at ${offset} outside the read`);
  reply.covered += length;
  return Number(at);
}

/** Reads one chunk's payload into `reply`. */
export async function readChunk(queue: ByteQueue, header: wire.StructuredReplyHeader, reply: ReplyAssembly, allocationContextId: number | undefined): Promise<void> {
  if (header.length > payloadBound(header.type, reply)) throw violation(`chunk of type ${header.type} with ${header.length} bytes`);
  const payload = header.length > 0 ? await queue.read(header.length) : Buffer.alloc(0);
  switch (header.type) {
    case wire.StructuredReplyType.OFFSET_DATA: {
      if (payload.length <= 8) throw violation('OFFSET_DATA without data');
      const data = payload.subarray(8);
      const at = placeInRead(reply, payload.readBigUInt64BE(0), data.length);
      if (at === 0 && data.length === reply.length && !reply.data) reply.data = data;
      else data.copy((reply.data ??= Buffer.alloc(reply.length)), at);
      return;
    }
    case wire.StructuredReplyType.OFFSET_HOLE: {
      const hole = wire.decodeOffsetHole(payload);
      placeInRead(reply, hole.offset, hole.length);
      reply.data ??= Buffer.alloc(reply.length);
      return;
    }
    case wire.StructuredReplyType.BLOCK_STATUS: {
      const status = wire.decodeBlockStatusPayload(payload);
      if (status.contextId !== allocationContextId) return;
      let offset = reply.offset;
      const extents: AllocationExtent[] = [];
      for (const extent of status.extents) {
        if (extent.length === 0 || offset + extent.length > reply.offset + reply.length) throw violation('extents beyond the range asked');
        const hole = (extent.flags & wire.AllocationFlag.HOLE) !== 0;
        extents.push({ offset, length: extent.length, hole, zero: (extent.flags & wire.AllocationFlag.ZERO) !== 0 });
        offset += extent.length;
      }
      reply.extents = extents;
      return;
    }
    case wire.StructuredReplyType.NONE:
      return;
    default: {
      const { error, message } = wire.decodeStructuredError(payload);
      const code = error === wire.ErrorCode.ESHUTDOWN ? 'NBD_CONNECTION_LOST' : 'NBD_READ_FAILED';
      reply.error ??= new NbdError(code, `the NBD server failed a ${reply.kind} (${wire.errorCodeName(error)}${message ? `: ${message}` : ''}); check the disk on the pool`);
    }
  }
}

/** The reply's value once its last chunk came, or the error it carried. */
export function finishReply(reply: ReplyAssembly): Buffer | AllocationExtent[] {
  if (reply.error) throw reply.error;
  if (reply.kind === 'status') {
    if (!reply.extents || reply.extents.length === 0) throw violation('block status without base:allocation extents');
    return reply.extents;
  }
  if (reply.covered !== reply.length || !reply.data) throw violation(`read of ${reply.length} bytes answered with ${reply.covered}`);
  return reply.data;
}
