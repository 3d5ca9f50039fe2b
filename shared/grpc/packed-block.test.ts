import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import { PutDiskRequest } from '../proto/gen/deltachain/storage/v1/storage.js';
import { createHash } from 'node:crypto';
import { blockChecksum, markedChecksum, pieceHashes, piecesChecksum, storedBlockChecksum } from './disk-checksum.js';
import { expandPacked, forEachMarkedRun, markedSectors, packBlock } from './packed-block.js';
import { blockMessageSize, encodeBlockInto } from './put-disk-encoding.js';

const BLOCK = 2 * 1024 * 1024;
const EXTENT_SECTORS = 128; // 64 KiB

function bitmapOf(sectors: number[], bytes = 512): Buffer {
  const bitmap = Buffer.alloc(bytes);
  for (const s of sectors) bitmap[s >> 3]! |= 0x80 >> (s & 7);
  return bitmap;
}

function extents(...starts: number[]): number[] {
  return starts.flatMap((e) => Array.from({ length: EXTENT_SECTORS }, (_, i) => e * EXTENT_SECTORS + i));
}

/** The expanded block by definition: marked sectors from `whole`, zeros elsewhere. */
function model(whole: Buffer, bitmap: Buffer, blockSize: number): Buffer {
  const out = Buffer.alloc(blockSize);
  for (let s = 0; s < blockSize / 512; s++) if (bitmap[s >> 3]! & (0x80 >> (s & 7))) whole.copy(out, s * 512, s * 512, s * 512 + 512);
  return out;
}

test('runs of marked sectors: single sectors, byte runs across bytes, the last sector; padding bits ignored', () => {
  const runs: [number, number][] = [];
  forEachMarkedRun(bitmapOf([0, 3, 4, 5, 6, 7, 8, 9, 10, 40, 4095]), BLOCK, (a, b) => runs.push([a, b]));
  assert.deepEqual(runs, [[0, 1], [3, 11], [40, 41], [4095, 4096]]);
  // 4 KiB blocks: 8 sectors in the first byte; the other 511 bytes are padding.
  const small = Buffer.alloc(512, 0xff);
  small[0] = 0b1010_0000;
  assert.equal(markedSectors(small, 4096), 2);
  assert.equal(markedSectors(Buffer.alloc(512, 0xff), BLOCK), 4096);
  assert.equal(markedSectors(Buffer.alloc(512), BLOCK), 0);
});

test('pack then expand gives the block with zeros in its unmarked sectors; the checksum covers the bitmap and the marked sectors, the same packed or whole', () => {
  for (const [blockSize, sectors] of [
    [BLOCK, extents(0, 5, 6, 31)],
    [BLOCK, [1, 2, 3, 100, 2047, 2048, 4000]],
    [4096, [0, 7]],
    [64 * 1024, Array.from({ length: 128 }, (_, i) => i).filter((i) => i % 3 !== 0)],
  ] as const) {
    const whole = randomBytes(blockSize);
    const bitmap = bitmapOf([...sectors]);
    const parts = packBlock(whole, bitmap, blockSize);
    const packed = Buffer.concat(parts);
    assert.equal(packed.length, markedSectors(bitmap, blockSize) * 512);
    const want = model(whole, bitmap, blockSize);
    const target = randomBytes(blockSize); // a reused buffer holds the previous block's bytes
    assert.ok(expandPacked(target, packed, bitmap, blockSize).equals(want), `block size ${blockSize}`);
    const expected = createHash('sha256').update(bitmap).update(packed).digest();
    assert.ok(markedChecksum(bitmap, packed, blockSize, true).equals(expected), 'packed: bitmap ‖ the data as sent');
    assert.ok(markedChecksum(bitmap, whole, blockSize).equals(expected), 'whole: bitmap ‖ its marked sectors');
    assert.ok(markedChecksum(bitmap, want, blockSize).equals(expected), 'expanded: the same');
    const byPieces = piecesChecksum(bitmap, pieceHashes('blake3', bitmap, packed, blockSize, true));
    assert.ok(storedBlockChecksum(bitmap, want).checksum.equals(byPieces), "stored: the writers' piece rule, from the expanded block as from the packed data");
    assert.equal(storedBlockChecksum(bitmap, want).marked, true);
  }
});

test('a packed block encodes (data in parts, packed = 5) as the generated encoder and decodes back', () => {
  const whole = randomBytes(BLOCK);
  const bitmap = bitmapOf(extents(2, 9, 10));
  const parts = packBlock(whole, bitmap, BLOCK);
  const fields = { index: 77, bitmap, data: parts, checksum: markedChecksum(bitmap, whole, BLOCK), packed: true };
  const encoded = encodeBlockInto(Buffer.alloc(blockMessageSize(fields)), fields);
  const message: PutDiskRequest = { part: { $case: 'block', value: { ...fields, data: Buffer.concat(parts) } } };
  assert.deepEqual(encoded, Buffer.from(PutDiskRequest.encode(message).finish()));
  const decoded = PutDiskRequest.decode(encoded).part;
  assert.ok(decoded?.$case === 'block');
  assert.equal(decoded.value.packed, true);
  assert.equal(decoded.value.data.length, 3 * 64 * 1024);
});

test('expanding into a reused buffer costs about a 2 MiB copy (figures logged)', (t) => {
  const target = Buffer.alloc(BLOCK);
  for (const count of [1, 8, 32]) {
    const bitmap = bitmapOf(extents(...Array.from({ length: count }, (_, i) => i)));
    const packed = randomBytes(count * 64 * 1024);
    const rounds = 200;
    const start = performance.now();
    for (let i = 0; i < rounds; i++) expandPacked(target, packed, bitmap, BLOCK);
    const each = (performance.now() - start) / rounds;
    const hashStart = performance.now();
    for (let i = 0; i < 20; i++) blockChecksum(bitmap, target);
    const hash = (performance.now() - hashStart) / 20;
    t.diagnostic(`${count} × 64 KiB extents: expand ${(each * 1000).toFixed(0)} µs, SHA-256 of the block ${(hash * 1000).toFixed(0)} µs`);
    // Well under the block's SHA-256, which the receiver computes anyway.
    assert.ok(each < 5, `${each} ms per block`);
  }
});

test('a block whose bitmap marks every sector: the marked checksum is SHA-256(bitmap ‖ data), as before', () => {
  const whole = randomBytes(BLOCK);
  const full = Buffer.alloc(512, 0xff);
  assert.ok(markedChecksum(full, whole, BLOCK).equals(blockChecksum(full, whole)));
  assert.deepEqual({ ...storedBlockChecksum(full, whole), checksum: undefined }, { checksum: undefined, fullBitmap: true, marked: false, pieces: 'blake3' });
});
