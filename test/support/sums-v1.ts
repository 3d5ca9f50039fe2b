// A `.sums` file of version 1 (docs/remote-format.md §6: 36-byte entries, no flags), as storage
// agents of remote format version 1 wrote them: what "a v1 .sums still reads" tests start from.
import { createHash } from 'node:crypto';
import { blockChecksum } from '../../shared/grpc/disk-checksum.js';
import type { SumsEntry } from '../../shared/sums/index.js';
import { VhdFile } from '../../shared/vhd/vhd-file.js';

export function encodeSumsV1(blockSize: number, entries: readonly SumsEntry[]): Buffer {
  const out = Buffer.alloc(32 + entries.length * 36 + 32);
  out.write('DCSUMS\r\n', 0, 'latin1');
  out.writeUInt32BE(1, 8);
  out.writeUInt32BE(blockSize, 12);
  out.writeUInt32BE(entries.length, 16);
  entries.forEach((entry, k) => {
    out.writeUInt32BE(entry.index, 32 + k * 36);
    entry.checksum.copy(out, 32 + k * 36 + 4);
  });
  createHash('sha256').update(out.subarray(0, out.length - 32)).digest().copy(out, out.length - 32);
  return out;
}

/** The version 1 table of a VHD file as those agents computed it: SHA-256(bitmap ‖ whole block) for every block, partly marked ones too. */
export async function sumsV1OfFile(vhdPath: string): Promise<Buffer> {
  const file = await VhdFile.open(vhdPath);
  try {
    const entries: SumsEntry[] = [];
    for (const index of file.allocatedBlocks()) {
      const block = (await file.readBlock(index))!;
      entries.push({ index, checksum: blockChecksum(block.bitmap, block.data), fullBitmap: undefined });
    }
    return encodeSumsV1(file.blockSize, entries);
  } finally {
    await file.close();
  }
}
