// A VHD file's blocks compared with its `.sums` table in one pass: the table's entries and the
// file's allocated blocks both ascend, so they are walked side by side; each block is read once.
// A block whose checksum (by the rule its entry records) differs from the entry, a block without an entry, an entry
// without a block and a block that cannot be read are all bad. Used by the storage agent's verify
// and by `deltachain vhd check`.
import { DiskDigest } from '../grpc/disk-checksum.js';
import { errorMessage } from '../errors.js';
import type { VhdFile } from '../vhd/vhd-file.js';
import { entryRuleChecksum, type SumsEntry } from './sums-format.js';

export interface BadBlockFinding {
  index: number;
  /** "checksum mismatch", "no stored checksum", "block missing (a checksum is stored for it)", "unreadable: …" */
  reason: string;
}

export interface BlockComparison {
  bad: BadBlockFinding[];
  /** The disk digest of the table. */
  digest: Buffer;
}

/** Throws what `entries` throws (a damaged table); `onBlock` is called after each block read. */
export async function compareBlocks(file: VhdFile, entries: AsyncIterable<SumsEntry>, onBlock: () => void = () => undefined): Promise<BlockComparison> {
  const blocks = file.allocatedBlocks();
  const digest = new DiskDigest();
  const bad: BadBlockFinding[] = [];
  let k = 0;
  const check = async (index: number, stored: SumsEntry | undefined): Promise<void> => {
    const block = await file.readBlock(index).catch((error: unknown) => errorMessage(error));
    if (typeof block === 'string') bad.push({ index, reason: `unreadable: ${block}` });
    else if (!stored) bad.push({ index, reason: 'no stored checksum' });
    else if (!entryRuleChecksum(stored, block!.bitmap, block!.data).equals(stored.checksum)) bad.push({ index, reason: 'checksum mismatch' });
    onBlock();
  };
  for await (const entry of entries) {
    digest.add(entry.index, entry.checksum);
    for (; k < blocks.length && blocks[k]! < entry.index; k++) await check(blocks[k]!, undefined);
    if (blocks[k] === entry.index) await check(blocks[k++]!, entry);
    else bad.push({ index: entry.index, reason: 'block missing (a checksum is stored for it)' });
  }
  for (; k < blocks.length; k++) await check(blocks[k]!, undefined);
  bad.sort((a, b) => a.index - b.index);
  return { bad, digest: digest.digest() };
}
