// Pure decisions over generations (see block-map.ts): which blocks differ between two disks (a
// delta export's), and the CBT bitmap XAPI's VDI.list_changed_blocks returns (which 64 KiB
// chunks were written). A block or chunk whose generation is the same in both maps holds the same
// bytes; any other may differ (an over-approximation when it was rewritten with identical bytes,
// as on a real SR).

/** Block indexes of `target` whose content may differ from `base` (missing entries are zeros). */
export function changedBlocks(base: Uint32Array, target: Uint32Array): number[] {
  const changed: number[] = [];
  for (let i = 0; i < target.length; i++) {
    if ((base[i] ?? 0) !== target[i]) changed.push(i);
  }
  return changed;
}

/** XAPI's CBT granularity: one bit of `VDI.list_changed_blocks` per 64 KiB. */
export const CBT_GRANULARITY = 64 * 1024;

/**
 * The CBT bitmap between two disks of `virtualSize` bytes from their generations per tracked unit
 * of `unitSize` bytes (64 KiB; a whole block when blocks are smaller): one bit per 64 KiB, most
 * significant bit first in each byte, set exactly where a unit in it was written since `base`.
 */
export function changedChunkBitmap(base: Uint32Array, target: Uint32Array, virtualSize: number, unitSize: number): Buffer {
  const chunks = Math.ceil(virtualSize / CBT_GRANULARITY);
  const bitmap = Buffer.alloc(Math.ceil(chunks / 8));
  for (let unit = 0; unit < target.length; unit++) {
    if ((base[unit] ?? 0) === target[unit]) continue;
    const first = Math.floor((unit * unitSize) / CBT_GRANULARITY);
    const last = Math.min(chunks, Math.ceil(((unit + 1) * unitSize) / CBT_GRANULARITY));
    for (let chunk = first; chunk < last; chunk++) bitmap[chunk >> 3]! |= 0x80 >> (chunk & 7);
  }
  return bitmap;
}
