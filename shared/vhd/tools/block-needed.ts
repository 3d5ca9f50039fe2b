// Which raw blocks `vhd from-raw` stores (pure). A dynamic disk stores every block that is not
// all zeros. A differencing disk stores a block when its bytes differ from what the parent chain
// reads there (only the bytes inside the disk count). A block not wholly inside the parent's
// virtual size (the disk grew) is always stored, zeros included: libvhdi refuses to read a parent
// past its own size (it fails the read rather than returning zeros), so the child must hold every
// byte past the parent's end. Costly only for a disk that grew, once.

export interface BlockFacts {
  /** blockSize bytes: the raw block, zero-padded past the disk's end. */
  data: Buffer;
  /** Bytes of `data` inside the disk (less than blockSize only for the last block). */
  validBytes: number;
  /** What the parent chain reads for this block; undefined for a dynamic disk. */
  parent: Buffer | undefined;
  /** The block lies wholly inside the parent's virtual size. */
  insideParent: boolean;
  /** blockSize zero bytes, shared. */
  zero: Buffer;
}

export function blockNeeded(f: BlockFacts): boolean {
  if (f.parent === undefined) return !f.data.equals(f.zero);
  if (!f.insideParent) return true;
  return f.data.compare(f.parent, 0, f.validBytes, 0, f.validBytes) !== 0;
}
