// Sector-bitmap arithmetic for reading through a differencing chain. A block is assembled from
// the newest layer down: `needed` has a bit per sector still missing; each layer contributes the
// sectors it marks that are still needed, copied in runs of consecutive sectors. Bytes of the
// bitmaps that are 0x00 or 0xff (whole 4 KiB pages) are handled 8 sectors at a time.
import { SECTOR_SIZE } from './format/index.js';

/**
 * Copies into `target` the sectors that are set in both `needed` and `bitmap`, taking them from
 * `data`, and clears them from `needed`. Returns true when `needed` has no bit left.
 */
export function overlaySectors(target: Buffer, needed: Uint8Array, data: Buffer, bitmap: Uint8Array): boolean {
  const bytes = needed.length;
  let runStart = -1;
  let remaining = false;
  for (let b = 0; b < bytes; b++) {
    const n = needed[b]!;
    const take = n & bitmap[b]!;
    if (take === 0xff || take === 0) {
      if (take === 0 && runStart >= 0) {
        copySectors(target, data, runStart, b * 8);
        runStart = -1;
      } else if (take === 0xff && runStart < 0) {
        runStart = b * 8;
      }
    } else {
      for (let bit = 0; bit < 8; bit++) {
        const sector = b * 8 + bit;
        if (take & (0x80 >> bit)) {
          if (runStart < 0) runStart = sector;
        } else if (runStart >= 0) {
          copySectors(target, data, runStart, sector);
          runStart = -1;
        }
      }
    }
    const left = n & ~take & 0xff;
    needed[b] = left;
    if (left !== 0) remaining = true;
  }
  if (runStart >= 0) copySectors(target, data, runStart, bytes * 8);
  return !remaining;
}

function copySectors(target: Buffer, data: Buffer, from: number, to: number): void {
  data.copy(target, from * SECTOR_SIZE, from * SECTOR_SIZE, to * SECTOR_SIZE);
}

/** True when the first `bytes` bytes of `bitmap` are all 0xff (memcmp against `full`). */
export function isFullPrefix(bitmap: Buffer, full: Buffer, bytes: number): boolean {
  return bitmap.subarray(0, bytes).equals(full.subarray(0, bytes));
}

/** Calls `run(first, end)` for each maximal run of marked sectors [first, end) in the block. */
export function forEachMarkedRun(bitmap: Uint8Array, blockSize: number, run: (first: number, end: number) => void): void {
  const bytes = blockSize / SECTOR_SIZE / 8;
  let start = -1;
  for (let b = 0; b < bytes; b++) {
    const byte = bitmap[b]!;
    if (byte === 0xff) {
      if (start < 0) start = b * 8;
    } else if (byte === 0) {
      if (start >= 0) run(start, b * 8);
      start = -1;
    } else {
      for (let bit = 0; bit < 8; bit++) {
        const sector = b * 8 + bit;
        if (byte & (0x80 >> bit)) {
          if (start < 0) start = sector;
        } else if (start >= 0) {
          run(start, sector);
          start = -1;
        }
      }
    }
  }
  if (start >= 0) run(start, bytes * 8);
}
