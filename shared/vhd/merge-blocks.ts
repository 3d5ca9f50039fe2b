// The blocks step of a merge: every allocated child block, ascending, into the parent.
//
// Each block is one read of bitmap + data from the child into a reused buffer and one write into
// the parent (in place, or appended). Reads run ahead of writes (`READ_AHEAD` blocks) so reading
// block i+1 overlaps writing block i. Nothing is fsynced per block: every `checkpointBlocks`
// blocks or `checkpointMs` milliseconds the caller's `checkpoint` makes the parent durable and
// records the next block in the state file. A crash between checkpoints loses only work that the
// resumed merge redoes (re-copying a whole block is idempotent, see merge-plan.ts).
import { SECTOR_SIZE } from './format/index.js';
import { classifyChildBlock, combinePartialBlock, type BlockGeometry } from './merge-plan.js';
import type { MergeTarget } from './merge-target.js';
import { readFully, type VhdFile } from './vhd-file.js';

const READ_AHEAD = 2;
/** Start writing back every this many blocks (64 MiB of 2 MiB blocks), overlapping disk and copy. */
const FLUSH_AHEAD_BLOCKS = 32;

export interface CopyBlocksRun {
  child: VhdFile;
  target: MergeTarget;
  /** Child block indexes still to merge, ascending. */
  indexes: number[];
  /** Called before block k is written (k = blocks done in this call) and once after the last. */
  beforeBlock(done: number): void;
  /** Called after each block with blocks done in this call. */
  afterBlock(done: number): void;
  /** Makes everything so far durable and records that blocks below `nextBlock` are merged. */
  checkpoint(nextBlock: number, done: number): Promise<void>;
  checkpointBlocks: number;
  /** Milliseconds. */
  checkpointMs: number;
  signal?: AbortSignal;
}

/** Runs the blocks step; returns how many blocks were written. The caller commits the rest. */
export async function copyBlocks(run: CopyBlocksRun): Promise<number> {
  const { child, target, indexes } = run;
  const geometry: BlockGeometry = { bitmapSize: target.bitmapSize, sectors: target.blockSize / SECTOR_SIZE };
  const ring = Array.from({ length: READ_AHEAD + 1 }, () => Buffer.allocUnsafe(target.blockBytes));
  const scratch = Buffer.allocUnsafe(target.blockBytes);
  const reads: Promise<void>[] = [];
  const startRead = (k: number): void => {
    const pending = readChildBlock(child, indexes[k]!, ring[k % ring.length]!);
    pending.catch(() => undefined); // awaited below; this only silences an early rejection
    reads[k % ring.length] = pending;
  };
  for (let k = 0; k < Math.min(READ_AHEAD, indexes.length); k++) startRead(k);
  let written = 0;
  let sinceCheckpoint = 0;
  let lastCheckpoint = Date.now();
  for (let k = 0; k < indexes.length; k++) {
    if (run.signal?.aborted) {
      await run.checkpoint(indexes[k]!, k);
      throw run.signal.reason;
    }
    await reads[k % ring.length];
    if (k + READ_AHEAD < indexes.length) startRead(k + READ_AHEAD);
    run.beforeBlock(k);
    if (await mergeOne(target, indexes[k]!, ring[k % ring.length]!, scratch, geometry)) written++;
    run.afterBlock(k + 1);
    if ((k + 1) % FLUSH_AHEAD_BLOCKS === 0) target.flushAhead();
    sinceCheckpoint++;
    const last = k + 1 === indexes.length; // the caller commits after the last block anyway
    if (!last && (sinceCheckpoint >= run.checkpointBlocks || Date.now() - lastCheckpoint >= run.checkpointMs)) {
      await run.checkpoint(indexes[k]! + 1, k + 1);
      sinceCheckpoint = 0;
      lastCheckpoint = Date.now();
    }
  }
  run.beforeBlock(indexes.length);
  return written;
}

async function readChildBlock(child: VhdFile, index: number, buf: Buffer): Promise<void> {
  await readFully(child.handle, buf, child.blockOffset(index)!, `${child.path}: block ${index}`);
}

/** Merges one child block (in `buf`, which it may rewrite); false when there was nothing to merge. */
async function mergeOne(target: MergeTarget, index: number, buf: Buffer, scratch: Buffer, geometry: BlockGeometry): Promise<boolean> {
  const kind = classifyChildBlock(buf.subarray(0, geometry.bitmapSize), geometry.sectors);
  if (kind === 'empty') return false;
  if (kind === 'partial') {
    const parentHas = target.hasBlock(index);
    if (parentHas) await target.readBlockInto(index, scratch);
    // Into a differencing parent without the block, the child's block is already the merge.
    if (parentHas || target.isDynamic) combinePartialBlock(buf, parentHas ? scratch : undefined, geometry, target.isDynamic);
  }
  await target.writeBlock(index, buf);
  return true;
}
