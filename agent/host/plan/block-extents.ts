// Which byte ranges of a disk to read over NBD, grouped by VHD block — pure, from what the pool
// said: for a delta, XAPI's CBT bitmap (`VDI.list_changed_blocks`: one bit per 64 KiB, most
// significant bit first, base64); for a full, the extents NBD's base:allocation reports as data.
// Ranges never cross a block boundary, are sector-aligned, end at the disk's end at the latest,
// and come in ascending order, so a reader can stream them and close each block as it passes.
import type { ByteRange } from '../../../shared/nbd/index.js';

/** XAPI's CBT granularity. */
export const CBT_CHUNK_BYTES = 64 * 1024;
const SECTOR_BYTES = 512;

/** The ranges of one VHD block to read, and the bytes they hold. */
export interface BlockExtents {
  index: number;
  ranges: ByteRange[];
  bytes: number;
}

/** What a list of block extents costs: blocks touched and bytes to read. */
export interface ExtentTotals {
  blocks: number;
  bytes: number;
}

export class CbtBitmapError extends Error {
  override name = 'CbtBitmapError';
}

/**
 * The bitmap XAPI returned, checked against the disk: base64 of at least one bit per 64 KiB of
 * `virtualSize` (the length is bounded before decoding: a bitmap far larger than the disk needs
 * is not a bitmap of this disk). Bits past the disk's end are ignored.
 */
export function decodeCbtBitmap(base64: unknown, virtualSize: number): Buffer {
  if (typeof base64 !== 'string') throw new CbtBitmapError(`VDI.list_changed_blocks returned ${typeof base64}, not a base64 string`);
  const needed = Math.ceil(Math.ceil(virtualSize / CBT_CHUNK_BYTES) / 8);
  // Base64 of `needed` bytes, with room for a server that rounds the bitmap up to a few KiB.
  if (base64.length > Math.ceil((needed + 65536) / 3) * 4) {
    throw new CbtBitmapError(`the CBT bitmap is ${base64.length} base64 characters, far more than the ${needed} bytes a disk of ${virtualSize} bytes needs`);
  }
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(base64)) throw new CbtBitmapError('the CBT bitmap is not base64');
  const bitmap = Buffer.from(base64, 'base64');
  if (bitmap.length < needed) throw new CbtBitmapError(`the CBT bitmap has ${bitmap.length} bytes; a disk of ${virtualSize} bytes needs ${needed}`);
  return bitmap;
}

/** Per VHD block holding at least one changed 64 KiB chunk: the runs of changed chunks in it. */
export function* changedExtents(bitmap: Uint8Array, virtualSize: number, blockSize: number): Generator<BlockExtents> {
  const chunks = Math.ceil(virtualSize / CBT_CHUNK_BYTES);
  const chunksPerBlock = Math.max(1, blockSize / CBT_CHUNK_BYTES);
  for (let first = 0; first < chunks; first += chunksPerBlock) {
    const end = Math.min(chunks, first + chunksPerBlock);
    if (!anyBitSet(bitmap, first, end)) continue;
    const extents: BlockExtents = { index: Math.floor((first * CBT_CHUNK_BYTES) / blockSize), ranges: [], bytes: 0 };
    let runStart = -1;
    for (let chunk = first; chunk <= end; chunk++) {
      const set = chunk < end && isBitSet(bitmap, chunk);
      if (set && runStart < 0) runStart = chunk;
      if (!set && runStart >= 0) {
        addRange(extents, runStart * CBT_CHUNK_BYTES, Math.min(chunk * CBT_CHUNK_BYTES, virtualSize));
        runStart = -1;
      }
    }
    yield extents;
  }
}

/**
 * Per VHD block holding data: the data extents in it (sorted, non-overlapping `extents` in,
 * e.g. NbdDiskReader.dataRanges), widened to whole sectors and cut at block boundaries.
 */
export function* allocatedExtents(extents: readonly ByteRange[], virtualSize: number, blockSize: number): Generator<BlockExtents> {
  let current: BlockExtents | undefined;
  for (const extent of extents) {
    let start = Math.floor(extent.offset / SECTOR_BYTES) * SECTOR_BYTES;
    const end = Math.min(virtualSize, Math.ceil((extent.offset + extent.length) / SECTOR_BYTES) * SECTOR_BYTES);
    while (start < end) {
      const index = Math.floor(start / blockSize);
      const stop = Math.min(end, (index + 1) * blockSize);
      if (current !== undefined && current.index !== index) {
        yield current;
        current = undefined;
      }
      current ??= { index, ranges: [], bytes: 0 };
      const last = current.ranges[current.ranges.length - 1];
      if (last !== undefined && last.offset + last.length >= start) {
        const grown = Math.max(last.offset + last.length, stop) - last.offset;
        current.bytes += grown - last.length;
        last.length = grown;
      } else addRange(current, start, stop);
      start = stop;
    }
  }
  if (current !== undefined) yield current;
}

export function totals(blocks: Iterable<BlockExtents>): ExtentTotals {
  let count = 0;
  let bytes = 0;
  for (const block of blocks) {
    count++;
    bytes += block.bytes;
  }
  return { blocks: count, bytes };
}

/** Sets the sector bits of `ranges` (disk offsets in block `index`) in a VHD block bitmap. */
export function markSectors(bitmap: Buffer, index: number, blockSize: number, ranges: readonly ByteRange[]): void {
  const blockStart = index * blockSize;
  for (const range of ranges) {
    const first = (range.offset - blockStart) / SECTOR_BYTES;
    const end = Math.ceil((range.offset + range.length - blockStart) / SECTOR_BYTES);
    for (let sector = first; sector < end; sector++) bitmap[sector >> 3]! |= 0x80 >> (sector & 7);
  }
}

function addRange(extents: BlockExtents, start: number, end: number): void {
  extents.ranges.push({ offset: start, length: end - start });
  extents.bytes += end - start;
}

function isBitSet(bitmap: Uint8Array, bit: number): boolean {
  return ((bitmap[bit >> 3] ?? 0) & (0x80 >> (bit & 7))) !== 0;
}

function anyBitSet(bitmap: Uint8Array, first: number, end: number): boolean {
  for (let bit = first; bit < end; ) {
    if ((bit & 7) === 0 && bit + 8 <= end) {
      if (bitmap[bit >> 3] !== 0) return true;
      bit += 8;
    } else {
      if (isBitSet(bitmap, bit)) return true;
      bit++;
    }
  }
  return false;
}
