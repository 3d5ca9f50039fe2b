// The chain digest of a backup's disk (docs/remote-format.md §6): the digest of the disk as a
// restore produces it — DiskDigest over, for every block allocated anywhere in the chain,
// ascending, SHA-256(full sector bitmap ‖ the chain's folded data of that block). That is what
// GetDisk BLOCKS emits and what the synthetic VHD stream carries.
//
// Taken from the checksum tables where they are exact: when the newest file holding a block
// stores it with an all-ones bitmap, its block checksum IS the folded block's checksum (flag
// FULL of `.sums` version 2; for a version 1 entry, the block's stored bitmap is read to know).
// Any other block is read folded through the checked chain and hashed. The tables are overlaid
// as streams (sums-overlay.ts), so memory does not grow with the disk.
import { DiskDigest, blockChecksum } from '../../shared/grpc/disk-checksum.js';
import { isAllOnes, type SumsEntry } from '../../shared/sums/index.js';
import { bitmapSize, type ChainReader } from '../../shared/vhd/index.js';
import { readFully } from '../../shared/vhd/vhd-file.js';
import { openCheckedChain, type ChainTarget } from './checked-chain.js';
import type { RemoteContext } from './remote-context.js';
import type { DamageReporter } from './sums-block-check.js';
import { overlaySums } from './sums-overlay.js';

export interface ChainDigestResult {
  digest: Buffer;
  /** Blocks in the digest. */
  blocks: number;
  /** Blocks whose folded data had to be read (the rest came from the tables). */
  blocksRead: number;
}

/** Opens the chain of `target` checked (damage fails with StorageDataError) and digests it. */
export async function computeChainDigest(ctx: RemoteContext, target: ChainTarget): Promise<ChainDigestResult> {
  const { chain, readers, damage } = await openCheckedChain(ctx, target);
  try {
    return await digestChain(chain, readers.map((r) => r.entries()), damage);
  } finally {
    await chain.close();
  }
}

/**
 * `chain` checks its reads; `tables` are its files' entry streams in chain order. A table that
 * disagrees with its file's BAT (an entry without its block, a block without an entry) fails
 * with the error `damage` makes: GetDisk would not emit what the tables describe.
 */
export async function digestChain(chain: ChainReader, tables: AsyncIterable<SumsEntry>[], damage: DamageReporter): Promise<ChainDigestResult> {
  const full = Buffer.alloc(bitmapSize(chain.blockSize), 0xff);
  const digest = new DiskDigest();
  let blocksRead = 0;
  let next = 0;
  const noEntryBelow = async (end: number): Promise<void> => {
    for (; next < end; next++) {
      const layer = chain.disks.findIndex((d) => d.hasBlock(next));
      if (layer >= 0) throw await damage(layer, next, 'has no checksum stored at commit');
    }
  };
  for await (const { layer, entry } of overlaySums(tables)) {
    if (entry.index >= chain.blockCount) continue;
    await noEntryBelow(entry.index);
    next = entry.index + 1;
    if (!chain.disks[layer]!.hasBlock(entry.index)) throw await damage(layer, entry.index, 'is missing (its checksum file has an entry for it)');
    const exact = entry.fullBitmap ?? isAllOnes(await readBitmap(chain, layer, entry.index));
    if (exact) {
      digest.add(entry.index, entry.checksum);
      continue;
    }
    digest.add(entry.index, blockChecksum(full, await chain.readBlock(entry.index)));
    blocksRead++;
  }
  await noEntryBelow(chain.blockCount);
  return { digest: digest.digest(), blocks: digest.count, blocksRead };
}

/** The stored sector bitmap of block `index` of the chain's file `layer` (no data read). */
async function readBitmap(chain: ChainReader, layer: number, index: number): Promise<Buffer> {
  const disk = chain.disks[layer]!;
  const bitmap = Buffer.alloc(disk.bitmapSize);
  await readFully(disk.handle, bitmap, disk.blockOffset(index)!, `${disk.path}: bitmap of block ${index}`);
  return bitmap;
}
