// Types shared by the VHD module's readers, writers, merge and streams.
import type { DynamicHeader, Footer } from './format/index.js';

/** One allocated block, as read from a stream or a file. */
export interface VhdBlock {
  /** Block number (its index in the BAT). */
  index: number;
  /** Sector bitmap, `bitmapSize(blockSize)` bytes. */
  bitmap: Buffer;
  /** Block data, exactly `blockSize` bytes. */
  data: Buffer;
}

/** What a VHD says about itself before its blocks. */
export interface VhdDescription {
  footer: Footer;
  /** Absent for fixed disks. */
  header: DynamicHeader | undefined;
  /** Decoded BAT; empty for fixed disks. */
  bat: Uint32Array;
}

/** Reports progress of long operations; library code never prints. */
export interface ProgressSink {
  (done: number, total: number): void;
}
