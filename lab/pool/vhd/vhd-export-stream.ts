// Streams a VHD export of a disk reader in the layout of vhd-export-layout.ts: the head, then
// each listed block (bitmap, then the block read from the point-in-time reader), then the footer.
// One block in memory at a time; the consumer's pace (backpressure) drives the reads.
import type { DiskReader } from '../disk/disk-reader.js';
import type { VhdExportLayout } from './vhd-export-layout.js';

export async function* vhdExportStream(reader: DiskReader, layout: VhdExportLayout): AsyncGenerator<Buffer> {
  yield layout.head;
  for (const index of layout.blocks) {
    yield layout.bitmap;
    yield await reader.readBlock(index);
  }
  yield layout.footer;
}

/** The raw bytes of the disk, one block at a time. */
export function rawExportStream(reader: DiskReader): AsyncGenerator<Buffer> {
  return reader.readRange(0, reader.virtualSize);
}
