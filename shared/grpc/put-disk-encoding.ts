// A faster serializer for PutDisk block messages. The generated ts-proto encoder copies a block's
// data into its writer's chunks, again when it joins them, and grpc-js's generated serializer
// copies once more into a Buffer: three copies of every 2 MiB. Block messages are the bulk of the
// data plane, so they are encoded here with a single copy of the data; every other message goes
// through the generated encoder. The bytes are standard protobuf:
//   PutDiskRequest.block (field 2, LEN) { index (1, varint), bitmap (2, LEN), data (3, LEN), checksum (4, LEN),
//                                         packed (5, varint, only when true) }
// A block's data may come in parts (a packed block's views of its marked runs, packed-block.ts):
// they are copied one after the other into the message, still one copy in all.
// put-disk-encoding.test.ts checks that the generated decoder reads them back identically.
//
// Senders may also encode a block themselves into a buffer they reuse (`encodeBlockInto`, with
// `ReusedBuffers`) and write that Buffer to the call: the serializer passes Buffers through
// unchanged, and grpc-js copies each into its own frame before the write's callback, so a buffer
// can be reused once its write's callback has run. That saves a fresh 2 MiB allocation per block,
// which profiles showed as the client's garbage-collector and page-fault time. Or they encode it
// one frame prefix in and write a FramedMessage (framed-message.ts): on a channel made with
// PUT_DISK_RETRY_BUFFER_BYTES, a message larger than that is sent from the sender's buffer as it is,
// and its write calls back once the HTTP/2 stream took it. (Should a buffer ever be reused too
// early, the storage agent's per-block checksum refuses the block.)
import { PutDiskRequest } from '../proto/gen/deltachain/storage/v1/storage.js';
import { FramedMessage, clientFrame } from './framed-message.js';

/**
 * `grpc.per_rpc_retry_buffer_size` of every channel PutDisk goes over: grpc-js keeps messages up to
 * this size per call for a retry and calls their writes back at once, so only larger ones are sent
 * from the sender's buffer (clientFrame). A block message is ~2 MiB; smaller ones (a packed
 * block's few sectors, the header) are copied as before.
 */
export const PUT_DISK_RETRY_BUFFER_BYTES = 256 * 1024;

/** A block message already encoded (by `encodeBlockInto`), written to the call as is. */
export type EncodedPutDiskRequest = Buffer;

export interface BlockFields {
  index: number;
  bitmap: Uint8Array;
  /** One buffer, or parts sent one after the other as one field. */
  data: Uint8Array | readonly Uint8Array[];
  checksum: Uint8Array;
  packed?: boolean;
}

function dataParts(data: BlockFields['data']): readonly Uint8Array[] {
  return data instanceof Uint8Array ? [data] : data;
}

function dataLength(data: BlockFields['data']): number {
  return dataParts(data).reduce((sum, part) => sum + part.length, 0);
}

export function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

export function writeVarint(out: Buffer, at: number, n: number): number {
  while (n >= 0x80) {
    out[at++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  out[at++] = n;
  return at;
}

function fieldSize(tag: number, length: number): number {
  return varintSize(tag) + varintSize(length) + length;
}

function innerSize({ index, bitmap, data, checksum, packed }: BlockFields): number {
  const length = dataLength(data);
  return (
    (index === 0 ? 0 : 1 + varintSize(index)) +
    (bitmap.length === 0 ? 0 : fieldSize(0x12, bitmap.length)) +
    (length === 0 ? 0 : fieldSize(0x1a, length)) +
    (checksum.length === 0 ? 0 : fieldSize(0x22, checksum.length)) +
    (packed === true ? 2 : 0)
  );
}

/** Bytes of the encoded PutDiskRequest carrying this block. */
export function blockMessageSize(block: BlockFields): number {
  return fieldSize(0x12, innerSize(block));
}

/** Encodes the PutDiskRequest carrying this block at the start of `out`; returns that view. */
export function encodeBlockInto(out: Buffer, block: BlockFields): Buffer {
  const inner = innerSize(block);
  const size = fieldSize(0x12, inner);
  if (out.length < size) throw new RangeError(`a ${size}-byte block message does not fit in ${out.length} bytes`);
  let at = writeVarint(out, writeVarint(out, 0, 0x12), inner);
  if (block.index !== 0) at = writeVarint(out, writeVarint(out, at, 0x08), block.index);
  for (const [tag, parts] of [[0x12, [block.bitmap]], [0x1a, dataParts(block.data)], [0x22, [block.checksum]]] as const) {
    const length = dataLength(parts);
    if (length === 0) continue;
    at = writeVarint(out, writeVarint(out, at, tag), length);
    for (const bytes of parts) {
      out.set(bytes, at);
      at += bytes.length;
    }
  }
  if (block.packed === true) {
    out[at++] = 0x28;
    out[at++] = 1;
  }
  return out.subarray(0, size);
}

export function serializePutDiskRequest(message: PutDiskRequest | EncodedPutDiskRequest | FramedMessage): Buffer {
  if (message instanceof FramedMessage) return clientFrame(message, PUT_DISK_RETRY_BUFFER_BYTES);
  if (Buffer.isBuffer(message)) return message;
  const part = message.part;
  if (part?.$case !== 'block') return Buffer.from(PutDiskRequest.encode(message).finish());
  return encodeBlockInto(Buffer.allocUnsafe(blockMessageSize(part.value)), part.value);
}
