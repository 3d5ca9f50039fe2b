import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { PutDiskRequest } from '../../../shared/proto/gen/deltachain/storage/v1/storage.js';
import { serializePutDiskRequest } from './put-disk-serializer.js';

describe('serializePutDiskRequest', () => {
  it('encodes block messages exactly as the generated encoder does', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 2 ** 32 - 1 }),
        fc.uint8Array({ maxLength: 600 }),
        fc.uint8Array({ maxLength: 5000 }),
        fc.uint8Array({ maxLength: 40 }),
        (index, bitmap, data, checksum) => {
          const request: PutDiskRequest = { part: { $case: 'block', value: { index, bitmap, data, checksum, packed: false } } };
          const ours = serializePutDiskRequest(request);
          assert.deepEqual(new Uint8Array(ours), PutDiskRequest.encode(request).finish());
          const decoded = PutDiskRequest.decode(ours).part;
          assert.equal(decoded?.$case, 'block');
          assert.equal(decoded.value.index, index);
          assert.ok(Buffer.from(decoded.value.data).equals(Buffer.from(data)));
        },
      ),
      { numRuns: 300 },
    );
  });
  it('encodes a 2 MiB block and leaves headers and trailers to the generated encoder', () => {
    const data = Buffer.alloc(2 * 1024 * 1024, 7);
    const request: PutDiskRequest = { part: { $case: 'block', value: { index: 300, bitmap: Buffer.alloc(512, 0xff), data, checksum: Buffer.alloc(32, 1), packed: false } } };
    assert.deepEqual(new Uint8Array(serializePutDiskRequest(request)), PutDiskRequest.encode(request).finish());
    const trailer: PutDiskRequest = { part: { $case: 'trailer', value: { blockCount: 3, digest: Buffer.alloc(32, 2) } } };
    assert.deepEqual(new Uint8Array(serializePutDiskRequest(trailer)), PutDiskRequest.encode(trailer).finish());
  });
});
