import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { PutDiskRequest } from '../proto/gen/deltachain/storage/v1/storage.js';
import { blockMessageSize, encodeBlockInto, serializePutDiskRequest } from './put-disk-encoding.js';
import { ReusedBuffers } from '../reused-buffers.js';

test('fast block encoding is read back by the generated decoder as the same message', () => {
  for (const [index, bitmap, data] of [
    [0, 0, 4096],
    [1, 512, 2 * 1024 * 1024],
    [127, 0, 8192],
    [128, 512, 0],
    [0xfffffffe, 512, 64 * 1024],
  ] as const) {
    const message: PutDiskRequest = {
      part: { $case: 'block', value: { index, bitmap: randomBytes(bitmap), data: randomBytes(data), checksum: randomBytes(32), packed: false } },
    };
    const encoded = serializePutDiskRequest(message);
    assert.deepEqual(encoded, Buffer.from(PutDiskRequest.encode(message).finish()), `index ${index}`);
    const decoded = PutDiskRequest.decode(encoded);
    assert.ok(decoded.part?.$case === 'block');
    assert.equal(decoded.part.value.index, index);
    const want = message.part!.value as { data: Uint8Array; bitmap: Uint8Array; checksum: Uint8Array };
    assert.ok(Buffer.from(decoded.part.value.data).equals(want.data));
    assert.ok(Buffer.from(decoded.part.value.bitmap).equals(want.bitmap));
    assert.ok(Buffer.from(decoded.part.value.checksum).equals(want.checksum));
  }
});

test('other messages go through the generated encoder', () => {
  const message: PutDiskRequest = { part: { $case: 'trailer', value: { blockCount: 3, digest: randomBytes(32) } } };
  assert.deepEqual(serializePutDiskRequest(message), Buffer.from(PutDiskRequest.encode(message).finish()));
});

test('a block encoded into a reused buffer is the same bytes, and passes the serializer unchanged', () => {
  const buffers = new ReusedBuffers();
  const first = { index: 5, bitmap: randomBytes(512), data: randomBytes(64 * 1024), checksum: randomBytes(32), packed: false };
  const out = buffers.take(blockMessageSize(first));
  const encoded = encodeBlockInto(out, first);
  assert.deepEqual(encoded, Buffer.from(PutDiskRequest.encode({ part: { $case: 'block', value: first } }).finish()));
  assert.equal(serializePutDiskRequest(encoded), encoded);
  buffers.give(out);
  // The next block of the same size reuses the buffer; a smaller one fits too (a view of it).
  const second = { index: 6, bitmap: new Uint8Array(0), data: randomBytes(64 * 1024), checksum: randomBytes(32), packed: false };
  const again = buffers.take(blockMessageSize(second));
  assert.equal(again, out);
  const view = encodeBlockInto(again, second);
  assert.equal(view.length, blockMessageSize(second));
  assert.deepEqual(view, Buffer.from(PutDiskRequest.encode({ part: { $case: 'block', value: second } }).finish()));
  assert.throws(() => encodeBlockInto(Buffer.alloc(10), second), /does not fit/);
});
