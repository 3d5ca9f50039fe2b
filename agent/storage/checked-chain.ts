// A chain opened for reading with every block checked against the `.sums` of its file
// (docs/remote-format.md §6, "Checked reads"): the tables are checked at open (chain-sums.ts),
// then each raw block as it is read (sums-block-check.ts). Any failure is a StorageDataError
// naming the file, the block and the backups that depend on the file — unless the chain's files
// changed under the reader: a merge that runs while a chain is read rewrites parent blocks the
// child only partly covers (and may move blocks to grow the BAT), so a mismatch there is a
// StorageChainChangedError (retryable: read again) when a merge of one of the chain's files is
// in progress or one of its paths no longer names the file that was opened.
import { stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { errorMessage } from '../../shared/errors.js';
import { ChainReader, listMergeStates } from '../../shared/vhd/index.js';
import type { AlignedBufferPool } from '../../shared/vhd/direct-io.js';
import type { SumsReader } from '../../shared/sums/index.js';
import { openChainSums } from './chain-sums.js';
import { dataDamageError } from './data-damage.js';
import { StorageChainChangedError } from './errors.js';
import type { RemoteContext } from './remote-context.js';
import { SumsBlockCheck, type DamageReporter } from './sums-block-check.js';

export interface ChainTarget {
  vmUuid: string;
  /** The backup whose disk is read (named in errors). */
  backupId: string;
  diskKey: string;
  /** Absolute path of the chain's newest file. */
  path: string;
  /** True while the backup is being committed: no metadata lists its own file yet. */
  uncommitted?: boolean;
  /**
   * True when the caller holds the VM's lock (commit, merge): no merge can change the files, so
   * every mismatch is damage.
   */
  exclusive?: boolean;
  /** Read the blocks past the page cache (a restore: the chain is read once, cold). */
  directReads?: boolean;
  /** The most layer buffers the reader holds at once (ChainReaderOptions.layerBuffers). */
  layerBuffers?: number;
  /** Where the reader's layer buffers come from and go back to (ChainReaderOptions.bufferPool). */
  bufferPool?: AlignedBufferPool;
}

export interface CheckedChain {
  /** Reads through `check`; closing it closes the files and the tables. */
  chain: ChainReader;
  check: SumsBlockCheck;
  /** The checked tables, in chain order (each can be walked again with `entries()`). */
  readers: SumsReader[];
  /** Makes the error for a block of the chain found bad by other means than a read. */
  damage: DamageReporter;
}

/** Throws StorageDataError when a table fails its checks at open. */
export async function openCheckedChain(ctx: RemoteContext, target: ChainTarget): Promise<CheckedChain> {
  const raw = await ChainReader.open(target.path, { directReads: target.directReads, layerBuffers: target.layerBuffers, bufferPool: target.bufferPool });
  try {
    const sums = await openChainSums(ctx, raw, { vmUuid: target.vmUuid, diskKey: target.diskKey, uncommittedLayers: target.uncommitted ? [0] : [] });
    const problem = sums.problems[0];
    // A table opened after a merge renamed the files describes the merged file, not the one
    // opened: only tables opened while every path still names its opened file belong to it.
    const replaced = problem || target.exclusive ? undefined : await replacedFile(raw);
    if (problem || replaced) await sums.close();
    if (problem) throw await dataDamageError(ctx, { ...target, path: problem.path, reason: problem.reason });
    if (replaced) throw new StorageChainChangedError(`backup ${target.backupId} of VM ${target.vmUuid}, disk ${target.diskKey}: ${replaced}; read the disk again`);
    const onDamage: DamageReporter = async (layer, index, reason) => {
      const path = ctx.layout.relative(raw.disks[layer]!.path);
      if (target.exclusive) return dataDamageError(ctx, { ...target, path, block: index, reason });
      const changed = await chainChanged(raw).catch((error: unknown) => `the chain could not be re-examined: ${errorMessage(error)}`);
      if (changed) {
        return new StorageChainChangedError(
          `backup ${target.backupId} of VM ${target.vmUuid}, disk ${target.diskKey}: ${path} block ${index} ${reason}, but ${changed}; read the disk again`,
        );
      }
      return dataDamageError(ctx, { ...target, path, block: index, reason });
    };
    const readers = sums.readers as SumsReader[];
    const check = new SumsBlockCheck(readers, onDamage, sums.close);
    return { chain: raw.withBlockCheck(check), check, readers, damage: onDamage };
  } catch (error) {
    await raw.close();
    throw error;
  }
}

/** Why the chain's files may have changed since they were opened, or undefined when they cannot have. */
async function chainChanged(chain: ChainReader): Promise<string | undefined> {
  const names = new Set(chain.disks.map((d) => basename(d.path)));
  const states = await listMergeStates(dirname(chain.head.path));
  const merging = states.find((s) => names.has(s.parent) || names.has(s.child));
  if (merging) return `a merge of ${merging.child} into ${merging.parent} is in progress`;
  return replacedFile(chain);
}

/** Which chain file's path no longer names the file that was opened (a merge renamed over it). */
async function replacedFile(chain: ChainReader): Promise<string | undefined> {
  for (const disk of chain.disks) {
    const opened = await disk.handle.stat();
    const now = await stat(disk.path).catch(() => undefined);
    if (!now || now.ino !== opened.ino || now.dev !== opened.dev) return `${basename(disk.path)} was replaced or removed (merged) while it was read`;
  }
  return undefined;
}
