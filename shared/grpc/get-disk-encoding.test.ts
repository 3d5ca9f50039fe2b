import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { GetDiskResponse } from '../proto/gen/deltachain/storage/v1/storage.js';
import { ChecksumRule } from '../proto/gen/deltachain/storage/v1/disk.js';
import { VHD_CHUNK_HEADER_ROOM, encodeVhdChunkInPlace, serializeGetDiskResponse } from './get-disk-encoding.js';

test('block and VHD chunk messages encode to the generated encoder bytes and decode back', () => {
  const messages: GetDiskResponse[] = [
    { part: { $case: 'block', value: { index: 0, bitmap: randomBytes(512), data: randomBytes(2 * 1024 * 1024), checksum: randomBytes(32), packed: false } } },
    { part: { $case: 'block', value: { index: 300, bitmap: randomBytes(512), data: randomBytes(4096), checksum: randomBytes(32), packed: false } } },
    { part: { $case: 'vhdChunk', value: randomBytes(1024 * 1024) } },
    { part: { $case: 'vhdChunk', value: randomBytes(100) } },
    { part: { $case: 'vhdChunk', value: Buffer.alloc(0) } },
    { part: { $case: 'vhdStart', value: { length: 5 * 2 ** 40, virtualSize: 2 ** 40, checksumRule: ChecksumRule.CHECKSUM_RULE_PIECES } } },
    { part: { $case: 'trailer', value: { blockCount: 7, digest: randomBytes(32) } } },
  ];
  for (const message of messages) {
    const fast = serializeGetDiskResponse(message);
    assert.deepEqual(fast, Buffer.from(GetDiskResponse.encode(message).finish()), message.part?.$case);
    assert.deepEqual(GetDiskResponse.decode(fast).part?.$case, message.part?.$case);
  }
  const chunk = randomBytes(300_000);
  const decoded = GetDiskResponse.decode(serializeGetDiskResponse({ part: { $case: 'vhdChunk', value: chunk } }));
  assert.ok(decoded.part?.$case === 'vhdChunk' && Buffer.from(decoded.part.value).equals(chunk));
});

test('a VHD chunk encoded in place is gRPC\'s frame of the generated encoder\'s bytes, a view of its buffer that leaves the chunk uncopied', () => {
  for (const length of [1, 127, 128, 2 * 1024 * 1024 + 512, 16_384 * 1024 + 3]) {
    const buffer = randomBytes(4096 + length);
    const chunk = buffer.subarray(4096);
    const expected = Buffer.from(GetDiskResponse.encode({ part: { $case: 'vhdChunk', value: Buffer.from(chunk) } }).finish());
    const framed = encodeVhdChunkInPlace(buffer, chunk);
    assert.equal(framed.frame[0], 0, 'not compressed');
    assert.equal(framed.frame.readUInt32BE(1), expected.length, 'the prefix gives the message length');
    assert.ok(framed.message.equals(expected), `${length} bytes`);
    assert.equal(framed.frame.buffer, buffer.buffer, 'a view of the buffer');
    assert.equal(framed.frame.byteOffset + framed.frame.length, chunk.byteOffset + chunk.length, 'ending with the chunk');
    assert.ok(serializeGetDiskResponse(framed).equals(expected), 'without the framing in place, the serializer gives the message for grpc-js to frame');
  }
  const buffer = randomBytes(1024);
  assert.throws(() => encodeVhdChunkInPlace(buffer, buffer.subarray(VHD_CHUNK_HEADER_ROOM - 1)), /at least 11 bytes in/, 'no room for the header');
  assert.throws(() => encodeVhdChunkInPlace(buffer, randomBytes(10)), /view of its buffer/, 'a chunk of other memory');
  assert.throws(() => encodeVhdChunkInPlace(buffer, buffer.subarray(100, 100)), /non-empty/, 'an empty chunk');
});
