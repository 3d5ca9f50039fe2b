// Constants of the VHD format (Microsoft "Virtual Hard Disk Image Format Specification" v1.0;
// see ../../../docs/vhd-module.md). All on-disk integers are big-endian.

export const SECTOR_SIZE = 512;
export const FOOTER_SIZE = 512;
export const HEADER_SIZE = 1024;
export const DEFAULT_BLOCK_SIZE = 2 * 1024 * 1024;
/** BAT entry of a block that is not allocated. */
export const BAT_ABSENT = 0xffffffff;
export const FOOTER_COOKIE = 'conectix';
export const HEADER_COOKIE = 'cxsparse';
export const FILE_FORMAT_VERSION = 0x00010000;
export const HEADER_VERSION = 0x00010000;
/** The "reserved" feature bit, always set. */
export const FEATURES_RESERVED = 2;
/** Seconds between the Unix epoch and the VHD epoch (2000-01-01T00:00:00Z). */
export const VHD_EPOCH_OFFSET = 946684800;
export const PARENT_LOCATOR_COUNT = 8;
export const PARENT_NAME_BYTES = 512;

export enum DiskType {
  Fixed = 2,
  Dynamic = 3,
  Differencing = 4,
}

/** Sanity limits applied to untrusted input (streams from the wire, files from a remote). */
export const LIMITS = Object.freeze({
  /** 2040 GiB: the largest disk XAPI exports as VHD. */
  maxVirtualSize: 2040 * 1024 * 1024 * 1024,
  minBlockSize: SECTOR_SIZE * 8,
  /** XAPI and qemu use 2 MiB; 64 MiB leaves room for other writers without unbounded buffers. */
  maxBlockSize: 64 * 1024 * 1024,
  /**
   * Entries of a BAT read, written or announced from untrusted input: 16 Mi (a 64 MiB table;
   * 32 TiB of 2 MiB blocks, 64 GiB of 4 KiB blocks). Checked before any table is allocated, on
   * every path: file reader, stream parser, writer and the PutDisk header.
   */
  maxBatEntries: 16 * 1024 * 1024,
});

export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

/** Bytes of a block's sector bitmap, padded to whole sectors (512 for 2 MiB blocks). */
export function bitmapSize(blockSize: number): number {
  const bytes = Math.ceil(blockSize / SECTOR_SIZE / 8);
  return Math.ceil(bytes / SECTOR_SIZE) * SECTOR_SIZE;
}

/** Bytes the BAT occupies on disk, padded to whole sectors. */
export function batSize(maxTableEntries: number): number {
  return Math.ceil((maxTableEntries * 4) / SECTOR_SIZE) * SECTOR_SIZE;
}

export function blockCount(currentSize: number, blockSize: number): number {
  return Math.ceil(currentSize / blockSize);
}
