import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AllocationFlag } from '../../../shared/nbd/protocol.js';
import { allocationExtents } from './allocation-extents.js';

const HOLE = AllocationFlag.HOLE | AllocationFlag.ZERO;
// Blocks of 100 bytes: allocated, allocated, hole, hole, allocated.
const disk = { blockSize: 100, isAllocated: (index: number) => [true, true, false, false, true][index] ?? false };

test('extents merge neighbours, start at the offset and stop at the end', () => {
  const cases: Array<[number, number, Array<[number, number]>]> = [
    [0, 500, [[200, 0], [200, HOLE], [100, 0]]],
    [50, 100, [[100, 0]]],
    [150, 200, [[50, 0], [150, HOLE]]],
    [399, 2, [[1, HOLE], [1, 0]]],
  ];
  for (const [offset, length, expected] of cases) {
    assert.deepEqual(allocationExtents(disk, offset, length), expected.map(([l, flags]) => ({ length: l, flags })), `${offset}+${length}`);
  }
});

test('a reply holds a bounded number of extents', () => {
  const alternating = { blockSize: 1, isAllocated: (index: number) => index % 2 === 0 };
  const extents = allocationExtents(alternating, 0, 100_000);
  assert.equal(extents.length, 4096);
  assert.equal(extents.reduce((sum, e) => sum + e.length, 0), 4096);
});
