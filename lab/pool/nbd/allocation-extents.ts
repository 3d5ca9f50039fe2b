// base:allocation of a lab disk: its 2 MiB blocks are allocated (data, flags 0) or not (a hole
// that reads as zeroes, HOLE | ZERO). Extents from `offset` to at most `offset + length`, the
// first starting at `offset` and the last cut at the end, neighbours with the same flags merged:
// what NBD_CMD_BLOCK_STATUS answers.
import { AllocationFlag, type Extent } from '../../../shared/nbd/protocol.js';

export interface AllocationSource {
  readonly blockSize: number;
  isAllocated(index: number): boolean;
}

/** At most this many extents per reply: a client asks again from where the reply stops. */
export const MAX_EXTENTS = 4096;

export function allocationExtents(disk: AllocationSource, offset: number, length: number): Extent[] {
  const extents: Extent[] = [];
  const end = offset + length;
  for (let position = offset; position < end; ) {
    const index = Math.floor(position / disk.blockSize);
    const stop = Math.min((index + 1) * disk.blockSize, end);
    const flags = disk.isAllocated(index) ? 0 : AllocationFlag.HOLE | AllocationFlag.ZERO;
    const last = extents[extents.length - 1];
    if (last && last.flags === flags && last.length + (stop - position) <= 0xffffffff) last.length += stop - position;
    else if (extents.length === MAX_EXTENTS) break;
    else extents.push({ length: stop - position, flags });
    position = stop;
  }
  return extents;
}
