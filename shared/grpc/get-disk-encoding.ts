// A faster serializer for GetDisk's bulk messages, the download side of put-disk-encoding.ts: the
// generated ts-proto encoder copies a 2 MiB block (or 1 MiB VHD chunk) into its writer's chunks,
// again when it joins them, and once more into a Buffer for grpc-js; profiles of a restore showed
// that and the garbage it makes as a fifth of the storage agent's CPU. Here a block or chunk
// message is one allocation and one copy. The bytes are standard protobuf (the generated decoder
// reads them; get-disk-encoding.test.ts checks they equal the generated encoder's):
//   GetDiskResponse.block     (field 2, LEN) — the same bytes as PutDiskRequest.block (also field 2)
//   GetDiskResponse.vhd_chunk (field 5, LEN)
import { GetDiskResponse } from '../proto/gen/deltachain/storage/v1/storage.js';
import { blockMessageSize, encodeBlockInto, varintSize, writeVarint } from './put-disk-encoding.js';

const VHD_CHUNK_TAG = 0x2a;

export function serializeGetDiskResponse(message: GetDiskResponse): Buffer {
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
