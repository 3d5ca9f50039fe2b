// A faster serializer for GetDisk's bulk messages, the download side of put-disk-encoding.ts: the
// generated ts-proto encoder copies a 2 MiB block (or 1 MiB VHD chunk) into its writer's chunks,
// again when it joins them, and once more into a Buffer for grpc-js; profiles of a restore showed
// that and the garbage it makes as a fifth of the storage agent's CPU. Here a block or chunk
// message is one allocation and one copy. The bytes are standard protobuf (the generated decoder
// reads them; get-disk-encoding.test.ts checks they equal the generated encoder's):
//   GetDiskResponse.block     (field 2, LEN) — the same bytes as PutDiskRequest.block (also field 2)
//   GetDiskResponse.vhd_chunk (field 5, LEN)
//
// A VHD stream's block needs no copy at all: the storage agent reads it into a buffer with room
// before it, and `encodeVhdChunkInPlace` writes gRPC's frame prefix and the message's tag and
// length into that room, so the whole frame is a view of the buffer, which grpc-js sends as it is
// (framed-message.ts); the buffer is reused only once the write's callback ran.
import { GetDiskResponse } from '../proto/gen/deltachain/storage/v1/storage.js';
import { FRAME_PREFIX_BYTES, FramedMessage, writeFramePrefix } from './framed-message.js';
import { blockMessageSize, encodeBlockInto, varintSize, writeVarint } from './put-disk-encoding.js';

const VHD_CHUNK_TAG = 0x2a;

/** Bytes to leave before a chunk for `encodeVhdChunkInPlace`: gRPC's frame prefix, a tag and a length up to 2^35. */
export const VHD_CHUNK_HEADER_ROOM = FRAME_PREFIX_BYTES + 6;

/**
 * The frame of the GetDiskResponse whose vhd_chunk is `chunk`, encoded in place: gRPC's prefix
 * and the message's tag and length go into the bytes of `buffer` just before `chunk` (a non-empty
 * view of `buffer` starting at least VHD_CHUNK_HEADER_ROOM bytes in), which it overwrites; the
 * frame is a view of `buffer` ending with `chunk`.
 */
export function encodeVhdChunkInPlace(buffer: Buffer, chunk: Uint8Array): FramedMessage {
  const start = chunk.byteOffset - buffer.byteOffset;
  if (chunk.buffer !== buffer.buffer || start < VHD_CHUNK_HEADER_ROOM || start + chunk.length > buffer.length || chunk.length === 0) {
    throw new RangeError(`a VHD chunk is encoded in place only from a non-empty view of its buffer at least ${VHD_CHUNK_HEADER_ROOM} bytes in`);
  }
  const at = start - 1 - varintSize(chunk.length);
  buffer[at] = VHD_CHUNK_TAG;
  writeVarint(buffer, at + 1, chunk.length);
  writeFramePrefix(buffer, at - FRAME_PREFIX_BYTES, start + chunk.length - at);
  return new FramedMessage(buffer.subarray(at - FRAME_PREFIX_BYTES, start + chunk.length));
}

/** The service's serializer; a FramedMessage reaches it only where grpc-js could not be made to send frames as they are (its message is then framed with a copy). */
export function serializeGetDiskResponse(message: GetDiskResponse | FramedMessage): Buffer {
  if (message instanceof FramedMessage) return message.message;
  const part = message.part;
  if (part?.$case === 'block') return encodeBlockInto(Buffer.allocUnsafe(blockMessageSize(part.value)), part.value);
  if (part?.$case === 'vhdChunk' && part.value.length > 0) {
    const out = Buffer.allocUnsafe(1 + varintSize(part.value.length) + part.value.length);
    out[0] = VHD_CHUNK_TAG;
    out.set(part.value, writeVarint(out, 1, part.value.length));
    return out;
  }
  return Buffer.from(GetDiskResponse.encode(message).finish());
}
