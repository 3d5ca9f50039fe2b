// The merge state file: `<folder>/.<parentBasename>.merge.json`, beside the parent of a merge.
//
// It exists exactly while a merge of `child` into `parent` is unfinished, and says how far the
// merge got, so that after a crash the next attempt finishes the job (see merge.ts for the steps
// and what each leaves on disk). It is always replaced whole: written to a temporary name
// (`.<parent>.merge.json.<hex>.tmp`), fsynced, renamed over the old one, folder fsynced — so a
// reader sees the previous state or the next, never a torn one.
//
// This module is the single reader and writer of the format (version 1). ChainReader uses
// `mergeExplainsUuidMismatch` to accept, during the last steps of a merge, a parent whose footer
// already carries the child's uuid.
import { readFile, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { DeltachainError } from '../errors.js';
import { isUuid } from './format/index.js';
import { writeFileAtomic } from '../files/atomic-write.js';

export const MERGE_STATE_VERSION = 1;

/**
 * - `blocks`: copying the child's blocks into the parent; blocks below `nextBlock` are durable.
 * - `footer`: every block is in the parent; its footers are being given the child's uuid/size.
 * - `rename`: the parent is complete; it is being renamed over the child.
 * - `done`: renamed; only this file is left to remove.
 */
export type MergeStep = 'blocks' | 'footer' | 'rename' | 'done';

export interface MergeState {
  version: 1;
  /** Basename of the child (the differencing disk merged away), in the same folder. */
  child: string;
  /** Basename of the parent (receives the blocks, then takes the child's name). */
  parent: string;
  /** Footer uuid of the child; the parent's footer uuid once the `footer` step is done. */
  childUuid: string;
  /** Footer uuid of the parent before the merge (= the child's header parent uuid). */
  parentUuid: string;
  step: MergeStep;
  /** Child block index: every child block below it is merged and durable in the parent. */
  nextBlock: number;
  /** Child blocks merged so far (durable), and how many the child has in all. */
  blocksMerged: number;
  totalBlocks: number;
  /** ISO 8601. */
  startedAt: string;
  updatedAt: string;
}

/** A state file is unreadable, malformed, or names files it should not. */
export class MergeStateError extends DeltachainError {
  override name = 'MergeStateError';
  readonly path: string;
  constructor(path: string, message: string, options: { cause?: unknown } = {}) {
    super('VHD_MERGE_STATE_INVALID', `merge state ${path}: ${message}`, options);
    this.path = path;
  }
}

const basenameSchema = z
  .string()
  .min(1)
  .max(255)
  .refine((name) => !name.includes('/') && !name.includes('\\') && name !== '.' && name !== '..', 'not a plain file name');
const uuidSchema = z.string().refine(isUuid, 'not a lowercase uuid');
const countSchema = z.number().int().min(0).max(0xffffffff);

const stateSchema = z
  .object({
    version: z.literal(MERGE_STATE_VERSION),
    child: basenameSchema,
    parent: basenameSchema,
    childUuid: uuidSchema,
    parentUuid: uuidSchema,
    step: z.enum(['blocks', 'footer', 'rename', 'done']),
    nextBlock: countSchema,
    blocksMerged: countSchema,
    totalBlocks: countSchema,
    startedAt: z.string(),
    updatedAt: z.string(),
  })
  .strict();

const STATE_NAME = /^\.(.+)\.merge\.json$/;
const TEMPORARY_SUFFIX = /^[0-9a-f]{8}\.tmp$/;

export function mergeStateName(parentBasename: string): string {
  return `.${parentBasename}.merge.json`;
}

export function mergeStatePath(folder: string, parentBasename: string): string {
  return join(folder, mergeStateName(parentBasename));
}

/** The state of an unfinished merge into `parentBasename`, or undefined when there is none. */
export async function readMergeState(folder: string, parentBasename: string): Promise<MergeState | undefined> {
  const path = mergeStatePath(folder, parentBasename);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new MergeStateError(path, `cannot be read: ${(error as Error).message}`, { cause: error });
  }
  const state = parseMergeState(text, path);
  if (state.parent !== parentBasename) {
    throw new MergeStateError(path, `names parent ${JSON.stringify(state.parent)}, expected ${JSON.stringify(parentBasename)}`);
  }
  return state;
}

/** Validates the text of a state file; `path` names it in errors. */
export function parseMergeState(text: string, path: string): MergeState {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new MergeStateError(path, `is not JSON (${(error as Error).message}); remove it only if no merge is running`, {
      cause: error,
    });
  }
  const parsed = stateSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new MergeStateError(path, `field ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  const state = parsed.data as MergeState;
  if (state.child === state.parent) throw new MergeStateError(path, 'child and parent are the same file');
  return state;
}

/**
 * Replaces the state file atomically. `durable` (default) also fsyncs the folder, so the new state
 * survives a power loss before anything that depends on it is written; a progress-only update
 * (a later `nextBlock`) may skip that: losing it only means re-copying some blocks.
 */
export async function writeMergeState(folder: string, state: MergeState, options: { durable?: boolean } = {}): Promise<void> {
  await writeFileAtomic(mergeStatePath(folder, state.parent), `${JSON.stringify(state, null, 2)}\n`, options);
}

/**
 * Removes the state file (the merge is finished), and any temporary of it that a crash in the
 * middle of `writeMergeState` left; absent is fine. Not fsynced: should the removal be lost, the
 * state file says the rename was done and the next attempt only removes it again.
 */
export async function removeMergeState(folder: string, parentBasename: string): Promise<void> {
  const temporary = `${mergeStateName(parentBasename)}.`;
  const names = (await readdir(folder)).filter((n) => n.startsWith(temporary) && TEMPORARY_SUFFIX.test(n.slice(temporary.length)));
  for (const name of [...names, mergeStateName(parentBasename)]) {
    try {
      await unlink(join(folder, name));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}

/** Every merge state file of `folder`, validated, in name order. */
export async function listMergeStates(folder: string): Promise<MergeState[]> {
  const names = (await readdir(folder)).sort();
  const states: MergeState[] = [];
  for (const name of names) {
    const match = STATE_NAME.exec(name);
    if (!match) continue;
    const state = await readMergeState(folder, match[1]!);
    if (state) states.push(state);
  }
  return states;
}

/**
 * The one agreed exception to "a parent's footer uuid equals the child's header parent uuid":
 * during the `footer` and `rename` steps of a merge of `child` into `parent`, the parent already
 * carries the child's uuid while the child still exists. True when `state` (read with
 * `readMergeState(folder, parent)`) describes exactly that situation.
 */
export function mergeExplainsUuidMismatch(
  state: MergeState | undefined,
  seen: { child: string; parent: string; childParentUuid: string; parentFooterUuid: string },
): boolean {
  if (!state) return false;
  return (
    state.child === seen.child &&
    state.parent === seen.parent &&
    state.parentUuid === seen.childParentUuid.toLowerCase() &&
    state.childUuid === seen.parentFooterUuid.toLowerCase() &&
    (state.step === 'footer' || state.step === 'rename')
  );
}
