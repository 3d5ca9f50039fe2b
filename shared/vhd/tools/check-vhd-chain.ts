// `vhd check`: a file and its whole chain, child first. Each disk is checked on its own
// (check-vhd-file.ts), then the link to its parent: the parent is found by the header's parent
// unicode name relative to the child's folder (as ChainReader finds it), its footer uuid must be
// the child's header parent uuid, the block sizes must agree, and the parent may not be larger
// than the child (disks grow, never shrink). The one accepted uuid mismatch is a merge stopped in
// its final step, recorded by a merge state file naming both files: the chain still reads
// correctly, and the report carries a note saying how to finish the merge.
import { basename, dirname } from 'node:path';
import { DiskType } from '../format/index.js';
import { MergeStateError, mergeExplainsUuidMismatch, readMergeState, type MergeState } from '../merge-state.js';
import { fileIdentity, locateParent } from '../parent-locator.js';
import { checkVhdFile, VhdCheckProblem, type CheckedFile, type CheckOptions } from './check-vhd-file.js';

export interface ChainCheckReport {
  ok: boolean;
  /** The disks checked, child first (up to the one with the problem, excluded). */
  disks: CheckedFile[];
  /** The first problem, when not ok (`badBlocks`: the blocks that failed the data check, if any). */
  problem?: { file: string; reason: string; badBlocks: { index: number; reason: string }[] };
  /** Things an operator should know that do not make the chain unsound. */
  notes: string[];
}

/** Chains deeper than this are refused: a loop or a runaway chain, never a real backup. */
export const MAX_CHAIN_DEPTH = 1000;

export async function checkVhdChain(path: string, options: CheckOptions = {}): Promise<ChainCheckReport> {
  const disks: CheckedFile[] = [];
  const notes: string[] = [];
  try {
    let current = await checkVhdFile(path, options);
    let shownPath = path;
    disks.push(current);
    const seen = new Set([await fileIdentity(current.path)]);
    while (current.footer.diskType === DiskType.Differencing) {
      const parentPath = await checkLink(current, shownPath, seen);
      const parent = await checkVhdFile(parentPath, options);
      await checkParentMatches(current, shownPath, parent, notes);
      disks.push(parent);
      current = parent;
      shownPath = parentPath;
    }
    return { ok: true, disks, notes };
  } catch (error) {
    if (!(error instanceof VhdCheckProblem)) throw error;
    return { ok: false, disks, problem: { file: error.file, reason: error.reason, badBlocks: error.badBlocks }, notes };
  }
}

/** The parent's real path; refuses names leading outside the folder, loops (by dev+ino) and runaway depth. */
async function checkLink(child: CheckedFile, shownPath: string, seen: Set<string>): Promise<string> {
  const name = child.header.parentUnicodeName;
  const located = await locateParent(child.path, name);
  if (!located.ok) throw new VhdCheckProblem(shownPath, located.reason);
  if (seen.has(located.identity)) {
    throw new VhdCheckProblem(shownPath, `parent ${JSON.stringify(name)} is already in the chain: the chain loops`);
  }
  if (seen.size >= MAX_CHAIN_DEPTH) {
    throw new VhdCheckProblem(shownPath, `chain deeper than ${MAX_CHAIN_DEPTH} disks`);
  }
  seen.add(located.identity);
  return located.path;
}

async function checkParentMatches(child: CheckedFile, shownPath: string, parent: CheckedFile, notes: string[]): Promise<void> {
  const fail = (reason: string): never => {
    throw new VhdCheckProblem(shownPath, reason);
  };
  const name = JSON.stringify(child.header.parentUnicodeName);
  const state = await mergeStateOf(parent.path);
  const names = { child: basename(child.path), parent: basename(parent.path) };
  const explained = mergeExplainsUuidMismatch(state, {
    ...names,
    childParentUuid: child.header.parentUuid,
    parentFooterUuid: parent.footer.uuid,
  });
  if (parent.footer.uuid !== child.header.parentUuid && !explained) {
    fail(`parent ${name} has uuid ${parent.footer.uuid}, the header expects ${child.header.parentUuid}`);
  }
  if (state && state.child === names.child && state.step !== 'done') {
    notes.push(
      `${shownPath}: the merge into ${names.parent} was interrupted (step ${state.step}); ` +
        `run "deltachain vhd merge ${shownPath}" to finish it`,
    );
  }
  if (parent.header.blockSize !== child.header.blockSize) {
    fail(`block size ${child.header.blockSize} differs from parent ${name}'s ${parent.header.blockSize}`);
  }
  if (parent.footer.currentSize > child.footer.currentSize) {
    fail(`parent ${name} (${parent.footer.currentSize} bytes) is larger than the disk (${child.footer.currentSize} bytes)`);
  }
}

/** The merge state beside `parentPath`; a malformed one is a problem of the state file. */
async function mergeStateOf(parentPath: string): Promise<MergeState | undefined> {
  try {
    return await readMergeState(dirname(parentPath), basename(parentPath));
  } catch (error) {
    if (error instanceof MergeStateError) {
      throw new VhdCheckProblem(error.path, error.message.replace(`merge state ${error.path}: `, 'merge state '));
    }
    throw error;
  }
}
