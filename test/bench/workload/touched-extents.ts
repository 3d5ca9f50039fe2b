// The 64 KiB extents a guest write touches: the unit the CBT path reads (VDI.list_changed_blocks
// marks 64 KiB extents), so extents × 64 KiB is the least a CBT delta can carry. Counted from the
// write's own plan (the lab's planner), which the lab and the raw mirror both apply.
import type { Extent } from '../../../lab/pool/workload/write-plan.js';

export const CBT_EXTENT = 64 * 1024;

/** Distinct CBT_EXTENT-aligned extents that `writes` overlap. */
export function touchedExtents(writes: readonly Extent[]): number {
  const touched = new Set<number>();
  for (const w of writes) {
    const last = Math.floor((w.offset + w.length - 1) / CBT_EXTENT);
    for (let e = Math.floor(w.offset / CBT_EXTENT); e <= last; e++) touched.add(e);
  }
  return touched.size;
}
