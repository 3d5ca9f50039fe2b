import assert from 'node:assert/strict';
import { test } from 'node:test';
import { allocatedExtents, CbtBitmapError, changedExtents, decodeCbtBitmap, markSectors, totals } from './block-extents.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const BLOCK = 2 * MiB;

/** A CBT bitmap marking the given 64 KiB chunks, MSB first. */
function bitmapOf(chunks: number[], bytes: number): Buffer {
  const out = Buffer.alloc(bytes);
  for (const c of chunks) out[c >> 3]! |= 0x80 >> (c & 7);
  return out;
}

test('a CBT bitmap from the pool is bounded before it is decoded, and must cover the disk', () => {
  const size = 64 * MiB; // 1024 chunks, 128 bytes
  assert.equal(decodeCbtBitmap(Buffer.alloc(128).toString('base64'), size).length, 128);
  assert.throws(() => decodeCbtBitmap(Buffer.alloc(127).toString('base64'), size), /has 127 bytes; a disk of 67108864 bytes needs 128/);
  assert.throws(() => decodeCbtBitmap('A'.repeat(4 * 1024 * 1024), size), CbtBitmapError, 'megabytes for a 64 MiB disk');
  assert.throws(() => decodeCbtBitmap('not base64!', size), /not base64/);
  assert.throws(() => decodeCbtBitmap(42, size), /returned number/);
});

test('changed extents: runs of marked chunks per 2 MiB block, never across a block, cut at the disk end', () => {
  const size = 4 * MiB + 100 * KiB; // 3 blocks, the last partial; 66 chunks (the last one short)
  const bitmap = bitmapOf([0, 1, 31, 32, 65], 16);
  const blocks = [...changedExtents(bitmap, size, BLOCK)];
  assert.deepEqual(blocks.map((b) => b.index), [0, 1, 2]);
  assert.deepEqual(blocks[0]!.ranges, [{ offset: 0, length: 128 * KiB }, { offset: 31 * 64 * KiB, length: 64 * KiB }]);
  assert.deepEqual(blocks[1]!.ranges, [{ offset: 32 * 64 * KiB, length: 64 * KiB }], 'chunks 31 and 32 are adjacent but in two blocks');
  assert.deepEqual(blocks[2]!.ranges, [{ offset: 65 * 64 * KiB, length: size - 65 * 64 * KiB }], 'the last chunk ends at the disk end');
  assert.deepEqual(totals(changedExtents(bitmap, size, BLOCK)), { blocks: 3, bytes: 4 * 64 * KiB + (size - 65 * 64 * KiB) });
  assert.equal([...changedExtents(Buffer.alloc(16), size, BLOCK)].length, 0, 'nothing marked, nothing read');
});

test('allocated extents: widened to sectors, split at blocks, adjacent ones merged', () => {
  const size = 6 * MiB;
  const blocks = [...allocatedExtents([{ offset: 100, length: 1000 }, { offset: 1536, length: 512 }, { offset: BLOCK - 512, length: 1024 }, { offset: 5 * MiB, length: 2 * MiB }], size, BLOCK)];
  assert.deepEqual(blocks.map((b) => b.index), [0, 1, 2]);
  assert.deepEqual(blocks[0]!.ranges, [{ offset: 0, length: 2048 }, { offset: BLOCK - 512, length: 512 }]);
  assert.deepEqual(blocks[1]!.ranges, [{ offset: BLOCK, length: 512 }]);
  assert.deepEqual(blocks[2]!.ranges, [{ offset: 5 * MiB, length: MiB }], 'cut at the disk end');
});

test('markSectors sets exactly the sectors of the ranges in the block', () => {
  const bitmap = Buffer.alloc(512);
  markSectors(bitmap, 1, BLOCK, [{ offset: BLOCK + 64 * KiB, length: 64 * KiB }]);
  assert.equal(bitmap.subarray(0, 16).every((b) => b === 0), true);
  assert.equal(bitmap.subarray(16, 32).every((b) => b === 0xff), true, 'sectors 128–255');
  assert.equal(bitmap.subarray(32).every((b) => b === 0), true);
});
