// Streams a VHD export of a disk reader in the layout of vhd-export-layout.ts: the head, then
// each listed block (bitmap, then the block read from the point-in-time reader), then the footer.
// One block in memory at a time, read into one buffer reused for every block: each chunk is valid
// until the next is asked for (sendStream writes a chunk out before it asks for the next). A fresh
// 2 MiB buffer per block cost the lab pool 9–12 CPU s per 4 GiB export, most of it the kernel
// faulting in the new pages and the garbage collector freeing them; reused, about 3 s.
import type { DiskReader } from '../disk/disk-reader.js';
import type { VhdExportLayout } from './vhd-export-layout.js';

export async function* vhdExportStream(reader: DiskReader, layout: VhdExportLayout): AsyncGenerator<Buffer> {
  yield layout.head;
  const block = Buffer.allocUnsafe(reader.blockSize);
  for (const index of layout.blocks) {
    yield layout.bitmap;
    yield await reader.readBlock(index, block);
  }
  yield layout.footer;
}

/** The raw bytes of the disk, one block at a time, each a view of one reused buffer. */
export function rawExportStream(reader: DiskReader): AsyncGenerator<Buffer> {
  return reader.readRange(0, reader.virtualSize, Buffer.allocUnsafe(reader.blockSize));
}
