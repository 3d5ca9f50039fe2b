// The `merge` task (docs/remote-format.md §8): merge each delta disk of a backup into its parent,
// retiring the parent's backup. Steps per disk, each safe to repeat after a crash:
//   0. check every block the merge will copy against the stored checksums (merge-input-check.ts):
//      damaged input fails the task with DATA_DAMAGED before anything changes;
//   1. remove the metadata of the backups whose disk is the parent (their date is given up);
//   2. write `.<D>.vhd.sums.merged` = parent checksums overlaid with D's (D's partially marked
//      blocks left out: they are recomputed from the merged file in step 4);
//   3. the VHD module's crash-safe merge (parent receives D's blocks, is renamed over D);
//   4. finish the checksums: fill missing entries from the merged file, rename over `<D>.vhd.sums`;
//   5. rewrite the chain fields of the VM's metadata.
// Idempotent: a disk that is already a full is skipped (only steps 4-5 are re-checked).
// Each disk's outcome carries the merged file's size as it is now on the remote (the merged full
// is not the size the delta had), so the catalogue can show what the remote holds.
import { access, rename, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { DiskType, SECTOR_SIZE, VhdFile } from '../../../shared/vhd/index.js';
import { fsyncFolder } from '../../../shared/files/fsync-folder.js';
import { classifyChildBlock } from '../../../shared/vhd/merge-plan.js';
import { isAllOnes } from '../../../shared/sums/index.js';
import { findInterruptedMerges, mergeVhd } from '../../../shared/vhd/merge.js';
import { storedBlockChecksum } from '../../../shared/grpc/disk-checksum.js';
import { readBackupMetadata, type BackupMetadata } from '../backup-metadata.js';
import { removeIfPresent } from '../../../shared/files/atomic-write.js';
import { StorageConflictError, StorageNotFoundError } from '../errors.js';
import { validBackupId, validUuid } from '../ids.js';
import { mergedSumsPathOf, sumsPathOf } from '../remote-layout.js';
import type { RemoteContext } from '../remote-context.js';
import { readSumsFile, writeSumsFile, type SumsEntry } from '../sums-file.js';
import { checkMergeInputs } from './merge-input-check.js';
import { readDiskFolderOf } from '../vm-folder.js';
import { refreshVmMetadata } from './refresh-metadata.js';

export interface MergeTaskInput {
  vmUuid: string;
  backupId: string;
}

export interface MergedDiskOutcome {
  diskKey: string;
  path: string;
  blocksMerged: number;
  resumed: boolean;
  merged: boolean;
  /** Size of the file at `path` after the merge, bytes. */
  fileSize: number;
}

export interface MergeTaskOutcome {
  disks: MergedDiskOutcome[];
  retiredBackupIds: string[];
}

export interface MergeTaskOptions {
  onProgress?: (done: number, total: number) => void;
  /** Test hook passed to the VHD merge: stop after this many blocks as if the process died. */
  failAfterBlocks?: number;
  /** Merge state checkpoint every this many blocks (VHD merge option; default 256). */
  checkpointBlocks?: number;
}

export async function runMergeTask(ctx: RemoteContext, input: MergeTaskInput, options: MergeTaskOptions = {}): Promise<MergeTaskOutcome> {
  const vmUuid = validUuid(input.vmUuid, 'VM uuid');
  const backupId = validBackupId(input.backupId);
  // Reads of the VM's chains wait for the whole merge, and it for the reads running (chain-locks.ts).
  const alone = <T>(fn: () => Promise<T>): Promise<T> =>
    ctx.locks.chains.write(vmUuid, fn, (reads) => ctx.logger.info({ vm: vmUuid, backupId, reads }, 'merge waits for reads of the VM'));
  return ctx.locks.withVm(vmUuid, () => alone(async () => {
    const metadata = await readBackupMetadata(ctx.layout.metadataPath(vmUuid, backupId));
    if (!metadata) throw new StorageNotFoundError(`backup ${backupId} of VM ${vmUuid} is not on remote ${ctx.remoteId}; nothing to merge`);
    const outcome: MergeTaskOutcome = { disks: [], retiredBackupIds: [] };
    for (const disk of metadata.disks) outcome.disks.push(await mergeDisk(ctx, metadata, disk.key, outcome.retiredBackupIds, options));
    await refreshVmMetadata(ctx, vmUuid);
    ctx.logger.info({ vm: vmUuid, backupId, retired: outcome.retiredBackupIds }, 'merge done');
    return outcome;
  }));
}

async function mergeDisk(ctx: RemoteContext, metadata: BackupMetadata, diskKey: string, retired: string[], options: MergeTaskOptions): Promise<MergedDiskOutcome> {
  const { folder, backups } = await readDiskFolderOf(ctx.layout, metadata.vmUuid, diskKey);
  const name = `${metadata.backupId}.vhd`;
  const child = folder.model.files.find((f) => f.name === name);
  if (!child) throw new StorageNotFoundError(`disk ${diskKey} of backup ${metadata.backupId} is missing: ${join(folder.folder, name)}`);
  const path = ctx.layout.relative(child.path);
  if (child.diskType === DiskType.Dynamic) {
    // Already merged; a crash may have left the merge's last step (state file removal) undone.
    const resumed = (await findInterruptedMerges(folder.folder)).includes(child.path);
    if (resumed) await mergeVhd(child.path);
    await finishChecksums(child.path);
    const fileSize = (await stat(child.path)).size;
    if (resumed) return { diskKey, path, blocksMerged: 0, resumed, merged: true, fileSize };
    return { diskKey, path, blocksMerged: 0, resumed: false, merged: false, fileSize };
  }
  const parent = folder.model.parent.get(name);
  const interrupted = await exists(join(folder.folder, `.${parent?.name ?? '-'}.merge.json`));
  if (!parent && !interrupted) throw new StorageConflictError(`${path}: its parent is missing or does not match; the chain is broken, nothing merged`);
  if (parent) {
    await checkMergeInputs(ctx, { vmUuid: metadata.vmUuid, backupId: metadata.backupId, diskKey, childPath: child.path });
    for (const backup of backups) {
      if (backup.disks.some((d) => d.key === diskKey && d.file === `disks/${diskKey}/${parent.name}`)) {
        await removeIfPresent(ctx.layout.metadataPath(metadata.vmUuid, backup.backupId));
        await fsyncFolder(ctx.layout.backupsFolder(metadata.vmUuid));
        retired.push(backup.backupId);
      }
    }
    if (!(await exists(mergedSumsPathOf(child.path)))) await writeMergedSums(child.path, parent.path);
  }
  const result = await mergeVhd(child.path, {
    onProgress: options.onProgress,
    failAfterBlocks: options.failAfterBlocks,
    checkpointBlocks: options.checkpointBlocks,
  });
  await finishChecksums(child.path, { merged: true });
  // The parent's table now describes nothing (its file took the child's name); a crash before
  // this line leaves it as garbage for scan ("checksums without their disk").
  if (parent) await removeIfPresent(sumsPathOf(parent.path));
  return { diskKey, path, blocksMerged: result.blocksMerged, resumed: result.resumed, merged: true, fileSize: (await stat(child.path)).size };
}

/**
 * Step 2: parent entries overlaid with the child's. A fully marked child block replaces the
 * parent's (the merge copies it as is, so its checksum and flags hold); an empty one leaves the
 * parent's block as it was; a partly marked one is left out, recomputed from the merged file in
 * step 4. Entries of a version 1 parent table keep their unknown flags.
 */
async function writeMergedSums(childPath: string, parentPath: string): Promise<void> {
  const parentSums = await readSumsFile(sumsPathOf(parentPath));
  const childEntries = new Map((await readSumsFile(sumsPathOf(childPath))).entries.map((e) => [e.index, e]));
  const fromChild = new Map<number, SumsEntry | undefined>();
  const child = await VhdFile.open(childPath);
  try {
    const bitmap = Buffer.alloc(child.bitmapSize);
    for (const index of child.allocatedBlocks()) {
      await child.handle.read(bitmap, 0, bitmap.length, child.bat[index]! * 512);
      const kind = classifyChildBlock(bitmap, child.blockSize / SECTOR_SIZE);
      const sum = childEntries.get(index);
      if (kind === 'full' && sum) fromChild.set(index, { ...sum, fullBitmap: isAllOnes(bitmap) });
      else if (kind !== 'empty') fromChild.set(index, undefined);
    }
  } finally {
    await child.close();
  }
  const merged = parentSums.entries.filter((e) => !fromChild.has(e.index));
  for (const entry of fromChild.values()) if (entry) merged.push(entry);
  merged.sort((a, b) => a.index - b.index);
  await writeSumsFile(mergedSumsPathOf(childPath), parentSums.blockSize, merged);
}

/**
 * Step 4: when the merged file is in place, complete its checksum table and put it in place.
 * Without `merged` (recovery, a re-run) a file still differencing is taken as not merged yet:
 * its pending table stays for the merge to finish. A merge of a delta into a delta leaves a
 * differencing file; the merge itself says so once its VHD step is done.
 */
export async function finishChecksums(vhdPath: string, options: { merged?: boolean } = {}): Promise<boolean> {
  const pending = mergedSumsPathOf(vhdPath);
  if (!(await exists(pending))) return false;
  const table = await readSumsFile(pending);
  const file = await VhdFile.open(vhdPath);
  try {
    if (!options.merged && file.footer.diskType !== DiskType.Dynamic) return false;
    const have = new Map(table.entries.map((e) => [e.index, e]));
    const entries: SumsEntry[] = [];
    for (const index of file.allocatedBlocks()) {
      const known = have.get(index);
      if (known) {
        entries.push(known);
        continue;
      }
      const block = (await file.readBlock(index))!;
      entries.push({ index, ...storedBlockChecksum(block.bitmap, block.data) });
    }
    if (entries.length !== table.entries.length || entries.some((e, k) => e !== table.entries[k])) {
      await writeSumsFile(pending, table.blockSize, entries);
    }
  } finally {
    await file.close();
  }
  await rename(pending, sumsPathOf(vhdPath));
  await fsyncFolder(dirname(vhdPath));
  return true;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
