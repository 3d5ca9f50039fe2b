// The piece rules (docs/remote-format.md §6) against their definition written out sector by
// sector, with piece hashes from independent implementations: node:crypto's SHA-256 (`pieces`)
// and the b3sum command (`blake3`, the BLAKE3 team's own tool) — whole and packed data agree,
// pieces split at 64 KiB whatever the runs, unmarked pieces hash the empty string, and a block
// under 64 KiB is one piece.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { PIECE_BYTES, hashOfPiece, pieceHashes, piecesChecksum, ruleChecksum, zeroPieceHash, markedChecksum, type PieceRule } from './disk-checksum.js';
import { packBlock } from './packed-block.js';

const RULES: PieceRule[] = ['pieces', 'blake3'];

const sha = (...parts: Uint8Array[]): Buffer => {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest();
};
const isMarked = (bitmap: Uint8Array, sector: number): boolean => ((bitmap[sector >> 3]! >> (7 - (sector & 7))) & 1) === 1;

/** BLAKE3-256 of each input, by the b3sum command (one call for all). */
function b3sum(inputs: readonly Uint8Array[]): Buffer[] {
  const folder = mkdtempSync(join(tmpdir(), 'b3sum-'));
  try {
    const files = inputs.map((input, i) => {
      const file = join(folder, String(i));
      writeFileSync(file, input);
      return file;
    });
    const lines = execFileSync('b3sum', ['--no-names', ...files], { encoding: 'utf8' }).trim().split('\n');
    return lines.map((line) => Buffer.from(line.trim(), 'hex'));
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

/** H of each input by `rule`, from the independent implementation. */
function independent(rule: PieceRule, inputs: readonly Uint8Array[]): Buffer[] {
  return rule === 'blake3' ? b3sum(inputs) : inputs.map((input) => sha(input));
}

/** The definition, sector by sector. */
function definition(rule: PieceRule, bitmap: Uint8Array, data: Uint8Array, blockSize: number): Buffer {
  const piece = Math.min(blockSize, PIECE_BYTES);
  const pieces: Buffer[] = [];
  for (let start = 0; start < blockSize; start += piece) {
    const marked: Uint8Array[] = [];
    for (let sector = start / 512; sector < (start + piece) / 512; sector++) if (isMarked(bitmap, sector)) marked.push(data.subarray(sector * 512, sector * 512 + 512));
    pieces.push(Buffer.concat(marked));
  }
  return sha(bitmap, ...independent(rule, pieces));
}

test('BLAKE3 pieces: the library agrees with b3sum on empty, short, 64 KiB and odd inputs', () => {
  const inputs = [Buffer.alloc(0), Buffer.from('abc'), randomBytes(PIECE_BYTES), Buffer.alloc(PIECE_BYTES), randomBytes(1025), randomBytes(512 * 37)];
  const want = b3sum(inputs);
  inputs.forEach((input, i) => assert.deepEqual(hashOfPiece('blake3', input), want[i], `input ${i} (${input.length} bytes)`));
  assert.equal(want[0]!.toString('hex'), 'af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262', "BLAKE3 of the empty string (the BLAKE3 paper's test vector)");
});

for (const rule of RULES) test(`piece rule ${rule}: whole and packed data give the definition, for runs across piece boundaries`, () => {
  const blockSize = 2 * 1024 * 1024;
  const data = randomBytes(blockSize);
  const bitmaps = [Buffer.alloc(512, 0xff), Buffer.alloc(512), Buffer.alloc(512)];
  bitmaps[1]!.fill(0xff, 10, 40); // sectors 80..319: across pieces 0..2
  bitmaps[1]![100] = 0x81; // two lone sectors in piece 6
  bitmaps[1]!.fill(0xff, 496, 512); // the whole last piece
  for (let byte = 0; byte < 512; byte += 3) bitmaps[2]![byte] = 0x5a; // scattered sectors in every piece
  for (const bitmap of bitmaps) {
    const want = definition(rule, bitmap, data, blockSize);
    assert.deepEqual(piecesChecksum(bitmap, pieceHashes(rule, bitmap, data, blockSize)), want);
    const packed = Buffer.concat(packBlock(data, bitmap, blockSize));
    assert.deepEqual(ruleChecksum(rule, bitmap, packed, blockSize, true), want);
    // In parts cut anywhere (NBD replies), read in order without joining.
    for (const cuts of [[packed.length], [1, 511, 70_000], [65_536, 65_536], [4096]]) {
      const parts: Buffer[] = [];
      for (let at = 0, i = 0; at < packed.length; i++) {
        const n = cuts[i % cuts.length]!;
        parts.push(packed.subarray(at, at + n));
        at += n;
      }
      assert.deepEqual(ruleChecksum(rule, bitmap, parts, blockSize, true), want, `parts of ${cuts.join(', ')}`);
      assert.deepEqual(ruleChecksum('whole', bitmap, parts, blockSize, true), markedChecksum(bitmap, packed, blockSize, true));
    }
    assert.throws(() => pieceHashes(rule, bitmap, [packed.subarray(0, packed.length - 512)], blockSize, true), /shorter than the sectors/);
    assert.deepEqual(ruleChecksum('whole', bitmap, data, blockSize), markedChecksum(bitmap, data, blockSize));
    assert.notDeepEqual(want, markedChecksum(bitmap, data, blockSize), 'the rules differ');
  }
});

for (const rule of RULES) test(`piece rule ${rule}: an unmarked piece hashes the empty string; a piece of zeros has its own constant`, () => {
  const blockSize = 2 * 1024 * 1024;
  const bitmap = Buffer.alloc(512);
  bitmap.fill(0xff, 0, 16); // piece 0 only
  const hashes = pieceHashes(rule, bitmap, Buffer.alloc(blockSize, 1), blockSize);
  assert.equal(hashes.length, 32 * 32);
  const [empty, zeros] = independent(rule, [Buffer.alloc(0), Buffer.alloc(PIECE_BYTES)]);
  assert.deepEqual(hashes.subarray(32, 64), empty);
  assert.deepEqual(zeroPieceHash(rule, blockSize), zeros);
});

for (const rule of RULES) test(`piece rule ${rule}: a block smaller than 64 KiB is one piece`, () => {
  const blockSize = 16 * 1024;
  const data = randomBytes(blockSize);
  const bitmap = Buffer.alloc(512);
  bitmap.fill(0xff, 0, 2);
  assert.equal(pieceHashes(rule, bitmap, data, blockSize).length, 32);
  assert.deepEqual(piecesChecksum(bitmap, pieceHashes(rule, bitmap, data, blockSize)), definition(rule, bitmap, data, blockSize));
  assert.deepEqual(zeroPieceHash(rule, blockSize), independent(rule, [Buffer.alloc(blockSize)])[0]);
});

test('the two piece rules differ', () => {
  const blockSize = 2 * 1024 * 1024;
  const data = randomBytes(blockSize);
  const bitmap = Buffer.alloc(512, 0xff);
  assert.notDeepEqual(ruleChecksum('pieces', bitmap, data, blockSize), ruleChecksum('blake3', bitmap, data, blockSize));
});
