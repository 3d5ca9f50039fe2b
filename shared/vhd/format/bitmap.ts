// Sector bitmaps: bit for sector i of a block is byte i >> 3, mask 0x80 >> (i & 7), most
// significant bit first. A set bit means the sector's data is in this block; a clear bit in a
// differencing disk means "read the parent".

export function isSectorMarked(bitmap: Uint8Array, sector: number): boolean {
  return (bitmap[sector >> 3]! & (0x80 >> (sector & 7))) !== 0;
}

export function markSector(bitmap: Uint8Array, sector: number): void {
  bitmap[sector >> 3]! |= 0x80 >> (sector & 7);
}

/** True when all `sectors` bits are set. */
export function isFullyMarked(bitmap: Uint8Array, sectors: number): boolean {
  const wholeBytes = sectors >> 3;
  for (let i = 0; i < wholeBytes; i++) if (bitmap[i] !== 0xff) return false;
  for (let s = wholeBytes * 8; s < sectors; s++) if (!isSectorMarked(bitmap, s)) return false;
  return true;
}

/** True when no bit of the first `sectors` is set. */
export function isEmpty(bitmap: Uint8Array, sectors: number): boolean {
  const wholeBytes = sectors >> 3;
  for (let i = 0; i < wholeBytes; i++) if (bitmap[i] !== 0) return false;
  for (let s = wholeBytes * 8; s < sectors; s++) if (isSectorMarked(bitmap, s)) return false;
  return true;
}

/** A bitmap buffer of `size` bytes with every bit set. */
export function fullBitmap(size: number): Buffer {
  return Buffer.alloc(size, 0xff);
}
