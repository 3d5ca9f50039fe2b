// Merging a differencing VHD (the child) into its parent, crash-safe and resumable.
//
// The parent receives the child's blocks in place (merge-target.ts says how each write stays
// readable after a crash), takes the child's uuid, size and timestamp, and is renamed over the
// child, so the next delta's parent link (name and uuid) stays valid and the chain is one shorter.
// Cost is proportional to the child: only its blocks are read, plus the parent's block for a
// partially marked child block.
//
// Progress lives in `.<parent>.merge.json` beside the parent (merge-state.ts; steps in
// merge-run.ts). A merge that stopped for any reason — crash, kill, power loss, I/O error — is
// finished by calling `mergeVhd` on the same child again, or by `findInterruptedMerges(folder)`
// then `mergeVhd` on each. Every state a crash can leave is handled (merge-plan.ts,
// `resumeAction`): both files present (continue from the recorded step), the parent renamed
// already (remove the state file), the child gone with the parent complete (rename only).
// A lock file per parent (merge-lock.ts) keeps two merges of the same parent apart.
import { access, open } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { DeltachainError } from '../errors.js';
import { DiskType, decodeFooter, FOOTER_SIZE } from './format/index.js';
import { acquireMergeLock, type MergeLock } from './merge-lock.js';
import { planBatGrowth, resumeAction } from './merge-plan.js';
import { MergeRun, type MergeRunOptions } from './merge-run.js';
import { listMergeStates, mergeStatePath, readMergeState, MERGE_STATE_VERSION, type MergeState } from './merge-state.js';
import { MergeTarget } from './merge-target.js';
import { VhdFile } from './vhd-file.js';

export type MergeOptions = MergeRunOptions;

export interface MergeResult {
  /** Where the merged disk is now: the child's path. */
  path: string;
  /** Where the parent was (that name no longer exists). */
  parentPath: string;
  /** Child blocks merged into the parent in all (across resumed attempts). */
  blocksMerged: number;
  /** Blocks written by this call. */
  blocksCopied: number;
  /** True when this call finished a merge an earlier attempt had started. */
  resumed: boolean;
}

/** The merge cannot be done (or finished) as asked; the message says what to do. */
export class VhdMergeError extends DeltachainError {
  override name = 'VhdMergeError';
  constructor(code: string, message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super(code, message, options);
  }
}

/** Merges the differencing VHD at `childPath` into its parent (or finishes an interrupted merge). */
export async function mergeVhd(childPath: string, options: MergeOptions = {}): Promise<MergeResult> {
  const path = resolve(childPath);
  const folder = dirname(path);
  const name = basename(path);
  const states = await listMergeStates(folder);
  const pending = states.find((s) => s.child === name);
  const parentName = pending?.parent ?? (await parentOf(path));
  if (!pending) refuseOverlap(folder, name, parentName, states);
  const lock = await acquireMergeLock(folder, parentName);
  try {
    const state = await readMergeState(folder, parentName);
    if (state && state.child !== name) {
      throw new VhdMergeError(
        'VHD_MERGE_OTHER_IN_PROGRESS',
        `${join(folder, parentName)} is being merged with ${state.child}; finish that merge first (deltachain vhd merge ${join(folder, state.child)})`,
      );
    }
    if (state) return await resume(folder, state, options, lock);
    if (pending) return { path, parentPath: join(folder, parentName), blocksMerged: pending.totalBlocks, blocksCopied: 0, resumed: true };
    return await start(path, parentName, options, lock);
  } finally {
    await lock.release();
  }
}

/**
 * A new merge may not touch a file another unfinished merge uses: the child must not be the
 * parent of one (it would be read while written), the parent must not be the child of one.
 */
function refuseOverlap(folder: string, child: string, parent: string, states: MergeState[]): void {
  const busy = states.find((s) => s.parent === child || s.child === parent);
  if (busy) {
    throw new VhdMergeError(
      'VHD_MERGE_OTHER_IN_PROGRESS',
      `the merge of ${busy.child} into ${busy.parent} is unfinished and uses the same disks; finish it first ` +
        `(deltachain vhd merge ${join(folder, busy.child)})`,
    );
  }
}

/** Paths of the children whose merge was interrupted in `folder`; pass each to `mergeVhd`. */
export async function findInterruptedMerges(folder: string): Promise<string[]> {
  const full = resolve(folder);
  return (await listMergeStates(full)).map((s) => join(full, s.child));
}

/** Basename of the child's parent, which must be a differencing disk's sibling. */
async function parentOf(childPath: string): Promise<string> {
  const child = await VhdFile.open(childPath);
  try {
    if (child.footer.diskType !== DiskType.Differencing) throw notDifferencing(childPath);
    const parentPath = resolve(dirname(childPath), child.header.parentUnicodeName);
    if (child.header.parentUnicodeName === '' || dirname(parentPath) !== dirname(childPath)) {
      throw new VhdMergeError(
        'VHD_MERGE_UNSUPPORTED',
        `${childPath} names its parent ${JSON.stringify(child.header.parentUnicodeName)}; merges need the parent in the same folder`,
      );
    }
    if (basename(parentPath) === basename(childPath)) {
      throw new VhdMergeError('VHD_MERGE_CHAIN_BROKEN', `${childPath} names itself as its parent`);
    }
    return basename(parentPath);
  } finally {
    await child.close();
  }
}

function notDifferencing(path: string): VhdMergeError {
  return new VhdMergeError(
    'VHD_MERGE_NOT_DIFFERENCING',
    `${path} is not a differencing VHD: it has no parent to merge into (already merged?)`,
  );
}

async function start(childPath: string, parentName: string, options: MergeOptions, lock: MergeLock): Promise<MergeResult> {
  const folder = dirname(childPath);
  const parentPath = join(folder, parentName);
  const child = await VhdFile.open(childPath);
  let target: MergeTarget | undefined;
  try {
    // Checked again under the lock: a merge that finished meanwhile left a dynamic disk here.
    if (child.footer.diskType !== DiskType.Differencing) throw notDifferencing(childPath);
    if (basename(resolve(folder, child.header.parentUnicodeName)) !== parentName) {
      throw new VhdMergeError('VHD_MERGE_CHANGED', `${childPath} changed while waiting for the merge lock; try again`, { retryable: true });
    }
    target = await MergeTarget.open(parentPath, (p) => options.injectFailure?.(p)).catch((error: unknown) => {
      throw new VhdMergeError('VHD_MERGE_PARENT_UNREADABLE', `parent of ${childPath}: ${(error as Error).message}`, { cause: error });
    });
    checkPair(child, target);
    const now = new Date().toISOString();
    const state: MergeState = {
      version: MERGE_STATE_VERSION,
      child: basename(childPath),
      parent: parentName,
      childUuid: child.footer.uuid,
      parentUuid: target.footer.uuid,
      step: 'blocks',
      nextBlock: 0,
      blocksMerged: 0,
      totalBlocks: child.allocatedBlocks().filter((i) => i < child.blockCount).length,
      startedAt: now,
      updatedAt: now,
    };
    const run = new MergeRun(folder, state, options, lock);
    await run.start();
    return await finish(run, child, target, childPath, false);
  } finally {
    await target?.close();
    await child.close();
  }
}

function checkPair(child: VhdFile, target: MergeTarget): void {
  try {
    planBatGrowth(target.layout(), child.blockCount);
  } catch (error) {
    throw new VhdMergeError('VHD_MERGE_UNSUPPORTED', `${target.path}: cannot grow its BAT for ${child.path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (target.footer.uuid !== child.header.parentUuid) {
    throw new VhdMergeError(
      'VHD_MERGE_CHAIN_BROKEN',
      `${child.path} names parent uuid ${child.header.parentUuid} but ${target.path} has uuid ${target.footer.uuid}; the chain is broken, nothing was changed`,
    );
  }
  if (target.blockSize !== child.blockSize) {
    throw new VhdMergeError(
      'VHD_MERGE_UNSUPPORTED',
      `${child.path} has ${child.blockSize}-byte blocks, its parent ${target.path} ${target.blockSize}; merging different block sizes is not supported`,
    );
  }
}

/** Runs the steps left from `run.state.step`; closes both files (closing again is harmless). */
async function finish(run: MergeRun, child: VhdFile, target: MergeTarget, childPath: string, resumed: boolean): Promise<MergeResult> {
  let copied = 0;
  if (run.state.step === 'blocks') copied = await run.blocks(child, target);
  if (run.state.step === 'footer') await run.footer(child, target);
  await target.close();
  // The child stays open across the rename that replaces it: its blocks are freed (and, on a
  // filesystem mounted with `discard`, trimmed) when it is closed afterwards, not inside the
  // folder fsync that makes the rename durable.
  await run.rename(target.path, childPath);
  await child.close();
  return { path: childPath, parentPath: target.path, blocksMerged: run.state.totalBlocks, blocksCopied: copied, resumed };
}

async function resume(folder: string, state: MergeState, options: MergeOptions, lock: MergeLock): Promise<MergeResult> {
  const childPath = join(folder, state.child);
  const parentPath = join(folder, state.parent);
  const seen = { childUuid: await footerUuid(childPath), parentUuid: await footerUuid(parentPath) };
  const action = resumeAction(state, seen);
  const run = new MergeRun(folder, state, options, lock);
  const result = { path: childPath, parentPath, blocksMerged: state.totalBlocks, blocksCopied: 0, resumed: true };
  switch (action.kind) {
    case 'broken':
      throw new VhdMergeError(
        'VHD_MERGE_CANNOT_RESUME',
        `interrupted merge of ${childPath} into ${parentPath} cannot be finished: ${action.reason}. ` +
          `Restore these files from another copy; ${mergeStatePath(folder, state.parent)} is kept for inspection`,
      );
    case 'cleanup':
      await run.cleanup();
      return result;
    case 'rename':
      await run.rename(parentPath, childPath);
      return result;
    case 'continue': {
      const child = await VhdFile.open(childPath);
      let target: MergeTarget | undefined;
      try {
        target = await MergeTarget.open(parentPath, (p) => options.injectFailure?.(p));
        return await finish(run, child, target, childPath, true);
      } finally {
        await target?.close();
        await child.close();
      }
    }
  }
}

/** The uuid in the footer copy at offset 0, or undefined when the file does not exist. */
async function footerUuid(path: string): Promise<string | undefined> {
  try {
    await access(path);
  } catch {
    return undefined;
  }
  const handle = await open(path, 'r');
  try {
    const buf = Buffer.alloc(FOOTER_SIZE);
    await handle.read(buf, 0, FOOTER_SIZE, 0);
    return decodeFooter(buf, `${path}: footer at offset 0`).uuid;
  } finally {
    await handle.close();
  }
}
