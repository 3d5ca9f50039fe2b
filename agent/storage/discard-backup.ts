// DiscardBackup (storage.proto; docs/remote-format.md §7): removes what the uploads of a backup
// that was never committed left on the remote — its received disks (`<id>.vhd`) and their
// `.sums` in every disk folder of the VM, the temporaries of its uploads that are no longer
// running, and a metadata temporary. A host agent calls it when a backup attempt fails and
// before an attempt uploads, so a killed or failed attempt leaves nothing behind.
// Refused (FAILED_PRECONDITION) once the backup is committed: a committed backup never changes.
// Idempotent: nothing to remove is an empty list. Runs under the VM's lock, so neither an
// upload's final rename nor a commit interleaves with it.
import { join } from 'node:path';
import { removeIfPresent } from './atomic-write.js';
import { readBackupMetadata } from './backup-metadata.js';
import { StorageConflictError } from './errors.js';
import { validBackupId, validUuid } from './ids.js';
import { diskFileName, isTemporaryName, sumsPathOf } from './remote-layout.js';
import type { RemoteContext } from './remote-context.js';
import { listFolder, readVmInventory, type DiskFolder } from './vm-inventory.js';

export interface DiscardInput {
  vmUuid: string;
  backupId: string;
}

export async function discardBackup(ctx: RemoteContext, input: DiscardInput): Promise<{ removedPaths: string[] }> {
  const vmUuid = validUuid(input.vmUuid, 'VM uuid');
  const backupId = validBackupId(input.backupId);
  return ctx.locks.withVm(vmUuid, async () => {
    if (await readBackupMetadata(ctx.layout.metadataPath(vmUuid, backupId))) {
      throw new StorageConflictError(`backup ${backupId} of VM ${vmUuid} is committed on remote ${ctx.remoteId}; a committed backup is never discarded (delete it instead)`);
    }
    const removed: string[] = [];
    const inventory = await readVmInventory(ctx.layout, vmUuid);
    for (const folder of inventory.disks.values()) {
      for (const path of await discardInFolder(ctx, vmUuid, folder, backupId)) removed.push(ctx.layout.relative(path));
    }
    const backups = ctx.layout.backupsFolder(vmUuid);
    for (const name of await listFolder(backups)) {
      if (isTemporaryName(name) && name.startsWith(`.${backupId}.json.`) && (await removeIfPresent(join(backups, name)))) removed.push(ctx.layout.relative(join(backups, name)));
    }
    if (removed.length > 0) ctx.logger.info({ vm: vmUuid, backupId, removed }, 'uncommitted backup discarded');
    return { removedPaths: removed };
  });
}

/** The backup's disk, its checksums and its upload temporaries in one disk folder. */
async function discardInFolder(ctx: RemoteContext, vmUuid: string, folder: DiskFolder, backupId: string): Promise<string[]> {
  const name = diskFileName(backupId);
  const removed: string[] = [];
  if (folder.needed.has(name)) {
    // Only a committed backup's chain could need it; never remove what a committed backup reads.
    ctx.logger.warn({ vm: vmUuid, path: ctx.layout.relative(join(folder.folder, name)) }, 'disk of an uncommitted backup is needed by a committed one; kept');
    return removed;
  }
  const vhd = join(folder.folder, name);
  for (const path of [sumsPathOf(vhd), vhd]) if (await removeIfPresent(path)) removed.push(path);
  if (ctx.uploads.isLive(vmUuid, folder.diskKey, backupId)) return removed;
  for (const entry of await listFolder(folder.folder)) {
    if (isTemporaryName(entry) && entry.startsWith(`.${name}.`) && (await removeIfPresent(join(folder.folder, entry)))) removed.push(join(folder.folder, entry));
  }
  return removed;
}
