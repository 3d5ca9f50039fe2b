// A faster serializer for PutDisk block messages. The generated ts-proto encoder copies a block's
// data into its writer's chunks, again when it joins them, and grpc-js's generated serializer
// copies once more into a Buffer: three copies of every 2 MiB. Block messages are the bulk of the
// data plane, so they are encoded here into one buffer with a single copy of the data; every
// other message goes through the generated encoder. The bytes are standard protobuf:
//   PutDiskRequest.block (field 2, LEN) { index (1, varint), bitmap (2, LEN), data (3, LEN), checksum (4, LEN) }
// put-disk-encoding.test.ts checks that the generated decoder reads them back identically.
import { PutDiskRequest } from '../proto/gen/deltachain/storage/v1/storage.js';

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

function writeVarint(out: Buffer, at: number, n: number): number {
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

export function serializePutDiskRequest(message: PutDiskRequest): Buffer {
  const part = message.part;
  if (part?.$case !== 'block') return Buffer.from(PutDiskRequest.encode(message).finish());
  const { index, bitmap, data, checksum } = part.value;
  const inner =
    (index === 0 ? 0 : 1 + varintSize(index)) +
    (bitmap.length === 0 ? 0 : fieldSize(0x12, bitmap.length)) +
    (data.length === 0 ? 0 : fieldSize(0x1a, data.length)) +
    (checksum.length === 0 ? 0 : fieldSize(0x22, checksum.length));
  const out = Buffer.allocUnsafe(fieldSize(0x12, inner));
  let at = writeVarint(out, writeVarint(out, 0, 0x12), inner);
  if (index !== 0) at = writeVarint(out, writeVarint(out, at, 0x08), index);
  for (const [tag, bytes] of [[0x12, bitmap], [0x1a, data], [0x22, checksum]] as const) {
    if (bytes.length === 0) continue;
    at = writeVarint(out, writeVarint(out, at, tag), bytes.length);
    out.set(bytes, at);
    at += bytes.length;
  }
  return out;
}
