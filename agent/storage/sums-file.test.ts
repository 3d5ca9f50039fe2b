import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { RemoteFormatError } from './errors.js';
import { decodeSums, digestOfSums, encodeSums } from './sums-file.js';

const sum = (n: number): Buffer => createHash('sha256').update(String(n)).digest();

test('round trip, ascending order, and the documented byte layout', () => {
  const sums = new Map([[7, sum(7)], [0, sum(0)], [300, sum(300)]]);
  const encoded = encodeSums({ blockSize: 2 * 1024 * 1024, sums });
  assert.equal(encoded.subarray(0, 8).toString('latin1'), 'DCSUMS\r\n');
  assert.equal(encoded.readUInt32BE(8), 1);
  assert.equal(encoded.readUInt32BE(12), 2 * 1024 * 1024);
  assert.equal(encoded.readUInt32BE(16), 3);
  assert.equal(encoded.length, 32 + 3 * 36 + 32);
  assert.deepEqual([0, 1, 2].map((i) => encoded.readUInt32BE(32 + i * 36)), [0, 7, 300]);
  const decoded = decodeSums(encoded, 'x');
  assert.deepEqual([...decoded.sums.keys()], [0, 7, 300]);
  assert.ok(decoded.sums.get(7)!.equals(sum(7)));
});

test('corruption anywhere is refused with the file named', () => {
  const encoded = encodeSums({ blockSize: 4096, sums: new Map([[1, sum(1)]]) });
  for (const at of [0, 9, 40, encoded.length - 1]) {
    const bad = Buffer.from(encoded);
    bad[at]! ^= 1;
    assert.throws(() => decodeSums(bad, 'disk.vhd.sums'), (e: Error) => e instanceof RemoteFormatError && /disk\.vhd\.sums/.test(e.message));
  }
  assert.throws(() => decodeSums(encoded.subarray(0, 40), 'short'), RemoteFormatError);
});

test('disk digest: SHA-256 over (uint32be index, checksum) in ascending index order', () => {
  const sums = new Map([[5, sum(5)], [2, sum(2)]]);
  const want = createHash('sha256');
  for (const i of [2, 5]) {
    const index = Buffer.alloc(4);
    index.writeUInt32BE(i);
    want.update(index).update(sum(i));
  }
  assert.ok(digestOfSums(sums).equals(want.digest()));
  assert.equal(digestOfSums(new Map()).toString('hex'), createHash('sha256').digest('hex'));
});
