// The piece rule (docs/remote-format.md §6) against its definition written out with node:crypto:
// whole and packed data agree, pieces split at 64 KiB whatever the runs, unmarked pieces hash
// the empty string, and a block under 64 KiB is one piece.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { PIECE_BYTES, pieceHashes, piecesChecksum, ruleChecksum, zeroPieceHash, markedChecksum } from './disk-checksum.js';
import { packBlock } from './packed-block.js';

const sha = (...parts: Uint8Array[]): Buffer => {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest();
};
const isMarked = (bitmap: Uint8Array, sector: number): boolean => ((bitmap[sector >> 3]! >> (7 - (sector & 7))) & 1) === 1;

/** The definition, sector by sector. */
function definition(bitmap: Uint8Array, data: Uint8Array, blockSize: number): Buffer {
  const piece = Math.min(blockSize, PIECE_BYTES);
  const hashes: Buffer[] = [];
  for (let start = 0; start < blockSize; start += piece) {
    const marked: Uint8Array[] = [];
    for (let sector = start / 512; sector < (start + piece) / 512; sector++) if (isMarked(bitmap, sector)) marked.push(data.subarray(sector * 512, sector * 512 + 512));
    hashes.push(sha(...marked));
  }
  return sha(bitmap, ...hashes);
}

test('piece rule: whole and packed data give the definition, for runs across piece boundaries', () => {
  const blockSize = 2 * 1024 * 1024;
  const data = randomBytes(blockSize);
  const bitmaps = [Buffer.alloc(512, 0xff), Buffer.alloc(512), Buffer.alloc(512)];
  bitmaps[1]!.fill(0xff, 10, 40); // sectors 80..319: across pieces 0..2
  bitmaps[1]![100] = 0x81; // two lone sectors in piece 6
  bitmaps[1]!.fill(0xff, 496, 512); // the whole last piece
  for (let byte = 0; byte < 512; byte += 3) bitmaps[2]![byte] = 0x5a; // scattered sectors in every piece
  for (const bitmap of bitmaps) {
    const want = definition(bitmap, data, blockSize);
    assert.deepEqual(piecesChecksum(bitmap, pieceHashes(bitmap, data, blockSize)), want);
    const packed = Buffer.concat(packBlock(data, bitmap, blockSize));
    assert.deepEqual(ruleChecksum('pieces', bitmap, packed, blockSize, true), want);
    // In parts cut anywhere (NBD replies), read in order without joining.
    for (const cuts of [[packed.length], [1, 511, 70_000], [65_536, 65_536], [4096]]) {
      const parts: Buffer[] = [];
      for (let at = 0, i = 0; at < packed.length; i++) {
        const n = cuts[i % cuts.length]!;
        parts.push(packed.subarray(at, at + n));
        at += n;
      }
      assert.deepEqual(ruleChecksum('pieces', bitmap, parts, blockSize, true), want, `parts of ${cuts.join(', ')}`);
      assert.deepEqual(ruleChecksum('whole', bitmap, parts, blockSize, true), markedChecksum(bitmap, packed, blockSize, true));
    }
    assert.throws(() => pieceHashes(bitmap, [packed.subarray(0, packed.length - 512)], blockSize, true), /shorter than the sectors/);
    assert.deepEqual(ruleChecksum('whole', bitmap, data, blockSize), markedChecksum(bitmap, data, blockSize));
    assert.notDeepEqual(want, markedChecksum(bitmap, data, blockSize), 'the rules differ');
  }
});

test('piece rule: an unmarked piece hashes the empty string; a piece of zeros has its own constant', () => {
  const blockSize = 2 * 1024 * 1024;
  const bitmap = Buffer.alloc(512);
  bitmap.fill(0xff, 0, 16); // piece 0 only
  const hashes = pieceHashes(bitmap, Buffer.alloc(blockSize, 1), blockSize);
  assert.equal(hashes.length, 32 * 32);
  assert.deepEqual(hashes.subarray(32, 64), sha());
  assert.deepEqual(zeroPieceHash(blockSize), sha(Buffer.alloc(PIECE_BYTES)));
});

test('piece rule: a block smaller than 64 KiB is one piece', () => {
  const blockSize = 16 * 1024;
  const data = randomBytes(blockSize);
  const bitmap = Buffer.alloc(512);
  bitmap.fill(0xff, 0, 2);
  assert.equal(pieceHashes(bitmap, data, blockSize).length, 32);
  assert.deepEqual(piecesChecksum(bitmap, pieceHashes(bitmap, data, blockSize)), definition(bitmap, data, blockSize));
  assert.deepEqual(zeroPieceHash(blockSize), sha(Buffer.alloc(blockSize)));
});
