// The chain digest of a backup's disk (docs/remote-format.md §6): the digest of the disk as a
// restore produces it — DiskDigest over, for every block allocated anywhere in the chain,
// ascending, SHA-256(full sector bitmap ‖ the chain's folded data of that block). That is what
// GetDisk BLOCKS emits and what the synthetic VHD stream carries.
//
// Taken from the checksum tables where they are exact: when the newest file holding a block
// stores it with an all-ones bitmap, its block checksum IS the folded block's checksum (flag
// FULL of `.sums` version 2; for a version 1 entry, the block's stored bitmap is read to know).
// Any other block is read folded through the checked chain and hashed. The tables are overlaid
// as streams (sums-overlay.ts), so memory does not grow with the disk. At a commit, when the
// parent date's terms are cached (chain-terms.ts), only the new file's blocks are looked at.
import { DiskDigest, blockChecksum } from '../../shared/grpc/disk-checksum.js';
import { TERM_BYTES, TermWriter } from './chain-terms.js';
import { isAllOnes, type SumsEntry } from '../../shared/sums/index.js';
import { bitmapSize, type ChainReader } from '../../shared/vhd/index.js';
import { readFully } from '../../shared/vhd/vhd-file.js';
import { openCheckedChain, type ChainTarget } from './checked-chain.js';
import type { RemoteContext } from './remote-context.js';
import type { DamageReporter } from './sums-block-check.js';
import { overlaySums } from './sums-overlay.js';
import { forEachReadAhead } from './read-ahead.js';

export interface ChainDigestResult {
  digest: Buffer;
  /** Blocks in the digest. */
  blocks: number;
  /** Blocks whose folded data had to be read (the rest came from the tables). */
  blocksRead: number;
  /** True when the parent date's cached terms stood for every older file. */
  fromParentTerms?: boolean;
}

/**
 * Opens the chain of `target` checked (damage fails with StorageDataError) and digests it. With
 * `cacheTerms` (a commit), the parent date's cached terms are used when present, and this date's
 * terms are cached for the next commit.
 */
export async function computeChainDigest(ctx: RemoteContext, target: ChainTarget, options: { cacheTerms?: boolean } = {}): Promise<ChainDigestResult> {
  const { chain, readers, damage } = await openCheckedChain(ctx, target);
  const cache = options.cacheTerms === true ? ctx.chainTerms : undefined;
  try {
    const terms = cache === undefined ? undefined : new TermWriter();
    const parentDisk = chain.disks[1];
    const parent = cache !== undefined && parentDisk !== undefined ? cache.get(parentDisk.path, await parentDisk.handle.stat()) : undefined;
    const result = parent !== undefined ? await digestOnParent(chain, readers[0]!.entries(), parent.terms, damage, terms!) : await digestChain(chain, readers.map((r) => r.entries()), damage, terms);
    if (cache !== undefined) cache.set(chain.disks[0]!.path, await chain.disks[0]!.handle.stat(), terms!.finish());
    return result;
  } finally {
    await chain.close();
  }
}

/**
 * The chain digest from the newest file's table and the parent date's terms: the newest file's
 * blocks as `digestChain` takes them, every other block's term as the parent date had it.
 */
async function digestOnParent(chain: ChainReader, newest: AsyncIterable<SumsEntry>, parent: Buffer, damage: DamageReporter, terms: TermWriter): Promise<ChainDigestResult> {
  const full = Buffer.alloc(bitmapSize(chain.blockSize), 0xff);
  const digest = new DiskDigest();
  const head = chain.disks[0]!;
  let blocksRead = 0;
  let at = 0;
  const add = (index: number, term: Uint8Array): void => {
    digest.add(index, term);
    terms.add(index, term);
  };
  const parentBelow = (end: number): void => {
    for (; at < parent.length; at += TERM_BYTES) {
      const index = parent.readUInt32BE(at);
      if (index >= end) return;
      if (index < chain.blockCount) add(index, parent.subarray(at + 4, at + TERM_BYTES));
    }
  };
  let next = 0;
  const noEntryBelow = async (end: number): Promise<void> => {
    for (; next < end; next++) if (head.hasBlock(next)) throw await damage(0, next, 'has no checksum stored at commit');
  };
  const inChain = async function* (): AsyncGenerator<SumsEntry> {
    for await (const entry of newest) if (entry.index < chain.blockCount) yield entry;
  };
  // The block of an entry not exact is read (folded through the chain) while earlier ones are hashed.
  const needsRead = async (entry: SumsEntry): Promise<number | undefined> => {
    await noEntryBelow(entry.index);
    next = entry.index + 1;
    if (!head.hasBlock(entry.index)) throw await damage(0, entry.index, 'is missing (its checksum file has an entry for it)');
    const exact = entry.fullBitmap ?? isAllOnes(await readBitmap(chain, 0, entry.index));
    return exact ? undefined : entry.index;
  };
  await forEachReadAhead(chain, inChain(), needsRead, (entry, block) => {
    parentBelow(entry.index);
    if (at < parent.length && parent.readUInt32BE(at) === entry.index) at += TERM_BYTES;
    if (block === undefined) add(entry.index, entry.checksum);
    else {
      add(entry.index, blockChecksum(full, block));
      blocksRead++;
    }
  });
  await noEntryBelow(chain.blockCount);
  parentBelow(Number.MAX_SAFE_INTEGER);
  return { digest: digest.digest(), blocks: digest.count, blocksRead, fromParentTerms: true };
}

/**
 * `chain` checks its reads; `tables` are its files' entry streams in chain order. A table that
 * disagrees with its file's BAT (an entry without its block, a block without an entry) fails
 * with the error `damage` makes: GetDisk would not emit what the tables describe.
 */
export async function digestChain(chain: ChainReader, tables: AsyncIterable<SumsEntry>[], damage: DamageReporter, terms?: TermWriter): Promise<ChainDigestResult> {
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
  const inChain = async function* (): AsyncGenerator<{ layer: number; entry: SumsEntry }> {
    for await (const item of overlaySums(tables)) if (item.entry.index < chain.blockCount) yield item;
  };
  const needsRead = async ({ layer, entry }: { layer: number; entry: SumsEntry }): Promise<number | undefined> => {
    await noEntryBelow(entry.index);
    next = entry.index + 1;
    if (!chain.disks[layer]!.hasBlock(entry.index)) throw await damage(layer, entry.index, 'is missing (its checksum file has an entry for it)');
    const exact = entry.fullBitmap ?? isAllOnes(await readBitmap(chain, layer, entry.index));
    return exact ? undefined : entry.index;
  };
  await forEachReadAhead(chain, inChain(), needsRead, ({ entry }, block) => {
    const term = block === undefined ? entry.checksum : blockChecksum(full, block);
    if (block !== undefined) blocksRead++;
    digest.add(entry.index, term);
    terms?.add(entry.index, term);
  });
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
