// Runs the steps of one merge from the step its state file records (merge.ts decides whether and
// from where; this class does the I/O). Each step ends by recording the next one durably:
//
//   blocks  grow the parent's BAT if the child is larger; copy child blocks from `nextBlock`,
//           checkpointing (parent fsync + state) every few seconds; commit → state `footer`
//   footer  write the child's uuid/size/timestamp into the parent's footers      → state `rename`
//   rename  rename the parent over the child's name, fsync the folder            → state removed
//
// Between `footer` and the rename the parent already carries the child's uuid while the child
// still names the old uuid as its parent; ChainReader accepts exactly that pair because this
// state file says so (merge-state.ts, `mergeExplainsUuidMismatch`).
import { rename } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { DeltachainError } from '../errors.js';
import { fsyncFolder } from '../files/fsync-folder.js';
import { copyBlocks } from './merge-blocks.js';
import type { MergeLock } from './merge-lock.js';
import { mergedFooter } from './merge-plan.js';
import { removeMergeState, writeMergeState, type MergeState } from './merge-state.js';
import type { MergeTarget, TargetPoint } from './merge-target.js';
import type { ProgressSink } from './types.js';
import type { VhdFile } from './vhd-file.js';

/** Crash points of a merge, in order; `injectFailure` may throw at any of them. */
export type MergePoint = 'started' | TargetPoint | 'checkpoint' | 'renamed';

export interface MergeRunOptions {
  onProgress?: ProgressSink;
  signal?: AbortSignal;
  /** Test hook: throw after this many blocks were written (in this call). */
  failAfterBlocks?: number;
  /** Test hook: called at every crash point; throwing there simulates a crash. */
  injectFailure?: (point: MergePoint) => void;
  /** Checkpoint after this many blocks (default 256) or milliseconds (default 5000), whichever first. */
  checkpointBlocks?: number;
  checkpointMs?: number;
}

/** Thrown by the failure-injection hooks: the merge stopped as if the process had died. */
export class MergeInjectedFailure extends DeltachainError {
  override name = 'MergeInjectedFailure';
  constructor(where: string) {
    super('VHD_MERGE_INJECTED_FAILURE', `merge stopped by an injected failure ${where}`, { retryable: true });
  }
}

export class MergeRun {
  readonly #folder: string;
  #state: MergeState;
  readonly #options: MergeRunOptions;
  readonly #lock: MergeLock;

  constructor(folder: string, state: MergeState, options: MergeRunOptions, lock: MergeLock) {
    this.#lock = lock;
    this.#folder = folder;
    this.#state = state;
    this.#options = options;
  }

  get state(): MergeState {
    return this.#state;
  }

  point(p: MergePoint): void {
    this.#options.injectFailure?.(p);
  }

  /** The `blocks` step from `nextBlock`; returns blocks written. */
  async blocks(child: VhdFile, target: MergeTarget): Promise<number> {
    await target.growBat(child.blockCount);
    const all = child.allocatedBlocks().filter((i) => i < child.blockCount);
    const first = lowerBound(all, this.#state.nextBlock);
    const indexes = all.slice(first);
    const { failAfterBlocks, onProgress } = this.#options;
    const written = await copyBlocks({
      child,
      target,
      indexes,
      beforeBlock: (done) => {
        if (done === failAfterBlocks) throw new MergeInjectedFailure(`after ${done} blocks`);
      },
      afterBlock: (done) => onProgress?.(first + done, all.length),
      checkpoint: async (nextBlock, done) => {
        await target.commit();
        await this.#save({ nextBlock, blocksMerged: first + done }, false);
        this.point('checkpoint');
      },
      checkpointBlocks: this.#options.checkpointBlocks ?? 256,
      checkpointMs: this.#options.checkpointMs ?? 5000,
      signal: this.#options.signal,
    });
    await target.commit();
    await this.#save({ step: 'footer', nextBlock: child.blockCount, blocksMerged: all.length });
    return written;
  }

  /** The `footer` step: the parent takes the child's identity. */
  async footer(child: VhdFile, target: MergeTarget): Promise<void> {
    await target.writeFooters(mergedFooter(target.footer, child.footer));
    await this.#save({ step: 'rename' });
  }

  /** The `rename` step; both files must be closed. */
  async rename(parentPath: string, childPath: string): Promise<void> {
    if (basename(parentPath) !== this.#state.parent || dirname(childPath) !== this.#folder) {
      throw new Error(`merge run of ${this.#state.parent} asked to rename ${parentPath}`);
    }
    await rename(parentPath, childPath);
    await fsyncFolder(this.#folder);
    this.point('renamed');
    await this.cleanup();
  }

  /**
   * Ends a merge whose rename is done: the lock goes first, then the state file. A crash between
   * the two leaves a state file (the next attempt removes it), never a lock nobody will take over
   * (the parent's name, which the lock is named after, no longer exists).
   */
  async cleanup(): Promise<void> {
    await this.#lock.release();
    await removeMergeState(this.#folder, this.#state.parent);
  }

  async start(): Promise<void> {
    await this.#save({});
    this.point('started');
  }

  /** Records progress; `durable` unless it only advances `nextBlock` (see writeMergeState). */
  async #save(change: Partial<MergeState>, durable = true): Promise<void> {
    this.#state = { ...this.#state, ...change, updatedAt: new Date().toISOString() };
    await writeMergeState(this.#folder, this.#state, { durable });
  }
}

/** First position in ascending `sorted` whose value is >= `value`. */
function lowerBound(sorted: number[], value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
