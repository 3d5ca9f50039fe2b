// Which raw blocks from-raw stores: table-driven over small buffers.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { blockNeeded, type BlockFacts } from './block-needed.js';

const zero = Buffer.alloc(16);
const data = (bytes: number[]): Buffer => Buffer.from([...bytes, ...Array(16 - bytes.length).fill(0)]);

describe('blockNeeded', () => {
  const cases: [string, Omit<BlockFacts, 'zero'>, boolean][] = [
    ['dynamic: all zeros is left out', { data: data([]), validBytes: 16, parent: undefined, insideParent: false }, false],
    ['dynamic: any non-zero byte is stored', { data: data([0, 0, 0, 1]), validBytes: 16, parent: undefined, insideParent: false }, true],
    ['child: same bytes as the parent is left out', { data: data([1, 2]), validBytes: 16, parent: data([1, 2]), insideParent: true }, false],
    ['child: zeros over parent data is stored', { data: data([]), validBytes: 16, parent: data([1]), insideParent: true }, true],
    ['child: a difference past the disk end is ignored', { data: data([1, 2, 0, 0]), validBytes: 2, parent: data([1, 2, 9, 9]), insideParent: true }, false],
    ['child: a difference inside the disk end counts', { data: data([1, 3]), validBytes: 2, parent: data([1, 2]), insideParent: true }, true],
    ['grown: zeros past the parent\'s end are stored (libvhdi cannot read a parent there)', { data: data([]), validBytes: 16, parent: data([]), insideParent: false }, true],
    ['grown: zeros over the parent\'s partial last block with data is stored', { data: data([]), validBytes: 16, parent: data([5]), insideParent: false }, true],
    ['grown: equal non-zero data across the parent\'s end is stored anyway', { data: data([5]), validBytes: 16, parent: data([5]), insideParent: false }, true],
  ];
  for (const [name, facts, expected] of cases) {
    it(name, () => assert.equal(blockNeeded({ ...facts, zero }), expected));
  }
});
