// Before a merge changes anything (docs/remote-format.md §8, step 0), every block it will copy is
// checked against the checksums stored at commit, so a merge never turns damage into data the
// merged file's checksums vouch for: each delta block against the delta's `.sums`, and for a
// delta block that does not mark every sector (its merged checksum is recomputed from the merged
// file) the parent's block under it against the parent's `.sums` too. Both tables are checked
// whole first (trailing hash, digest against the metadata). A failure is DATA_DAMAGED naming the
// file and block, and the merge has not started: no metadata removed, the parent unchanged.
//
// This reads the delta once more than the merge itself does; the merge's own pass then copies
// blocks that were just proven sound. A resumed merge (its state file exists) checks the delta
// blocks still to copy only: parent blocks under partly marked delta blocks may already hold the
// merged result of the attempt that stopped, which no stored checksum describes.
import { basename, dirname } from 'node:path';
import { SECTOR_SIZE, readMergeState } from '../../../shared/vhd/index.js';
import { classifyChildBlock } from '../../../shared/vhd/merge-plan.js';
import { openCheckedChain } from '../checked-chain.js';
import type { RemoteContext } from '../remote-context.js';

export interface MergeInput {
  vmUuid: string;
  /** The backup whose disk (the delta) is merged into its parent. */
  backupId: string;
  diskKey: string;
  /** Absolute path of the delta. */
  childPath: string;
  /** Called after each block checked (blocks checked, blocks to check). */
  onProgress?: (done: number, total: number) => void;
}

/** Throws StorageDataError at the first damaged input block; returns the blocks checked. */
export async function checkMergeInputs(ctx: RemoteContext, input: MergeInput): Promise<number> {
  const { chain, check } = await openCheckedChain(ctx, { ...input, path: input.childPath, exclusive: true });
  try {
    const [child, parent] = chain.disks;
    if (!child || !parent) return 0;
    const state = await readMergeState(dirname(parent.path), basename(parent.path));
    const resumed = state?.child === basename(child.path);
    if (resumed && state.step !== 'blocks') return 0;
    const from = resumed ? state.nextBlock : 0;
    const indexes = child.allocatedBlocks().filter((i) => i >= from && i < child.blockCount);
    const sectors = child.blockSize / SECTOR_SIZE;
    for (let k = 0; k < indexes.length; k++) {
      const block = (await child.readBlock(indexes[k]!))!;
      await check.check(0, block);
      const partial = classifyChildBlock(block.bitmap, sectors) !== 'full';
      if (partial && !resumed && parent.hasBlock(block.index)) await check.check(1, (await parent.readBlock(block.index))!);
      input.onProgress?.(k + 1, indexes.length);
    }
    return indexes.length;
  } finally {
    await chain.close();
  }
}
