// Pure decisions over block generations (see block-map.ts): which blocks differ between two
// disks, and the CBT bitmap XAPI's VDI.list_changed_blocks returns. A block whose generation is
// the same in both maps holds the same bytes; any other block may differ (an over-approximation
// when a block was rewritten with identical bytes, as on a real SR).

/** Block indexes of `target` whose content may differ from `base` (missing entries are zeros). */
export function changedBlocks(base: Uint32Array, target: Uint32Array): number[] {
  const changed: number[] = [];
  for (let i = 0; i < target.length; i++) {
    if ((base[i] ?? 0) !== target[i]) changed.push(i);
  }
  return changed;
}

/** CBT granularity of XAPI: one bit per 64 KiB. */
export const CBT_GRANULARITY = 64 * 1024;

/**
 * The changed-block bitmap between two disks of `virtualSize` bytes: one bit per `granularity`
 * bytes, most significant bit first in each byte, every chunk of a changed block marked.
 */
export function changedBlockBitmap(
  base: Uint32Array,
  target: Uint32Array,
  virtualSize: number,
  blockSize: number,
  granularity = CBT_GRANULARITY,
): Buffer {
  const chunks = Math.ceil(virtualSize / granularity);
  const bitmap = Buffer.alloc(Math.ceil(chunks / 8));
  const perBlock = blockSize / granularity;
  for (const block of changedBlocks(base, target)) {
    const first = block * perBlock;
    const last = Math.min(first + perBlock, chunks);
    for (let chunk = first; chunk < last; chunk++) bitmap[chunk >> 3]! |= 0x80 >> (chunk & 7);
  }
  return bitmap;
}
