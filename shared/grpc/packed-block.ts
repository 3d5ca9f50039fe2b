// The packed form of a DiskBlock (proto/deltachain/storage/v1/disk.proto, docs/remote-format.md
// §7 "Packed blocks"): `data` holds only the sectors the bitmap marks, in ascending order. Both
// ends walk the bitmap as runs of consecutive marked sectors: a sender packs a whole block into
// views of its marked runs (no copy); its checksum covers the bitmap and those sectors only
// (disk-checksum.ts markedChecksum), so neither end hashes the zeros; a receiver expands into a
// buffer it reuses. Only the block's `blockSize / 512` sectors count; the bitmap's padding bits
// carry no data. Bitmap bytes of 0x00 or 0xff (8 sectors, one 4 KiB page) are taken whole.

import { forEachMarkedRun } from '../vhd/sector-overlay.js';

export { forEachMarkedRun };
export const SECTOR_BYTES = 512;

/** Sectors of the block the bitmap marks (padding bits past the block's sectors not counted). */
export function markedSectors(bitmap: Uint8Array, blockSize: number): number {
  let count = 0;
  forEachMarkedRun(bitmap, blockSize, (first, end) => (count += end - first));
  return count;
}

/** Views of `whole` (a whole block) holding its marked sectors, in order: the packed data. */
export function packBlock(whole: Uint8Array, bitmap: Uint8Array, blockSize: number): Uint8Array[] {
  const parts: Uint8Array[] = [];
  forEachMarkedRun(bitmap, blockSize, (first, end) => parts.push(whole.subarray(first * SECTOR_BYTES, end * SECTOR_BYTES)));
  return parts;
}

/**
 * Expands packed data into `target` (at least `blockSize` bytes, reused across blocks): marked
 * sectors from `packed`, every other byte zeroed. Returns the whole block, a view of `target`.
 * The caller has checked `packed.length` against the bitmap (`markedSectors`).
 */
export function expandPacked(target: Buffer, packed: Uint8Array, bitmap: Uint8Array, blockSize: number): Buffer {
  let at = 0;
  let filled = 0;
  forEachMarkedRun(bitmap, blockSize, (first, end) => {
    target.fill(0, filled, first * SECTOR_BYTES);
    const length = (end - first) * SECTOR_BYTES;
    target.set(packed.subarray(at, at + length), first * SECTOR_BYTES);
    at += length;
    filled = end * SECTOR_BYTES;
  });
  target.fill(0, filled, blockSize);
  return target.subarray(0, blockSize);
}

export function byteLength(parts: readonly Uint8Array[]): number {
  return parts.reduce((sum, part) => sum + part.length, 0);
}
