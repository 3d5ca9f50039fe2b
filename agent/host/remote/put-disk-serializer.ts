// PutDisk's request encoder, written by hand for the one message that carries disk data. The
// generated code encodes a 2 MiB block into a fresh Uint8Array and then copies it again into a
// Buffer (`Buffer.from(encode(value).finish())`); gRPC then frames it in a third copy. This writes
// the protobuf wire format of `PutDiskRequest { block: DiskBlock { index, bitmap, data, checksum } }`
// straight into one Buffer of the exact size, so a block costs one copy before framing — less
// garbage per block, which is what keeps the agent's resident memory flat while it streams.
// Header and trailer messages (small) go through the generated encoder.
// Wire format: field 2 (block, length-delimited) = tag 0x12; inside, field 1 index (varint) 0x08,
// field 2 bitmap 0x12, field 3 data 0x1a, field 4 checksum 0x22; proto3 omits zero/empty values.
import { PutDiskRequest } from '../../../shared/proto/gen/deltachain/storage/v1/storage.js';

function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

function writeVarint(buffer: Buffer, at: number, value: number): number {
  while (value >= 0x80) {
    buffer[at++] = (value % 128) | 0x80;
    value = Math.floor(value / 128);
  }
  buffer[at++] = value;
  return at;
}

function bytesFieldSize(length: number): number {
  return length === 0 ? 0 : 1 + varintSize(length) + length;
}

function writeBytesField(buffer: Buffer, at: number, tag: number, bytes: Uint8Array): number {
  if (bytes.length === 0) return at;
  buffer[at++] = tag;
  at = writeVarint(buffer, at, bytes.length);
  buffer.set(bytes, at);
  return at + bytes.length;
}

export function serializePutDiskRequest(request: PutDiskRequest): Buffer {
  const part = request.part;
  if (part?.$case !== 'block') {
    const encoded = PutDiskRequest.encode(request).finish();
    return Buffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength);
  }
  const { index, bitmap, data, checksum } = part.value;
  const inner = (index === 0 ? 0 : 1 + varintSize(index)) + bytesFieldSize(bitmap.length) + bytesFieldSize(data.length) + bytesFieldSize(checksum.length);
  const buffer = Buffer.allocUnsafe(1 + varintSize(inner) + inner);
  let at = 0;
  buffer[at++] = 0x12;
  at = writeVarint(buffer, at, inner);
  if (index !== 0) {
    buffer[at++] = 0x08;
    at = writeVarint(buffer, at, index);
  }
  at = writeBytesField(buffer, at, 0x12, bitmap);
  at = writeBytesField(buffer, at, 0x1a, data);
  at = writeBytesField(buffer, at, 0x22, checksum);
  return buffer;
}
