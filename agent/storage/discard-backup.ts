// DiscardBackup (storage.proto; docs/remote-format.md §7): removes what the uploads of a backup
// that was never committed left on the remote — its received disks (`<id>.vhd`) and their
// `.sums` in every disk folder of the VM, the temporaries of its uploads that are no longer
// running, and a metadata temporary. A host agent calls it when a backup attempt fails and
// before an attempt uploads, so a killed or failed attempt leaves nothing behind.
// Refused (FAILED_PRECONDITION) once the backup is committed: a committed backup never changes.
// Idempotent: nothing to remove is an empty list. Runs under the VM's lock, so neither an
// upload's final rename nor a commit interleaves with it.
import { basename, join } from 'node:path';
import { removeIfPresent } from '../../shared/files/atomic-write.js';
import { readBackupMetadata } from './backup-metadata.js';
import { StorageConflictError } from './errors.js';
import { ID_PATTERN, validBackupId, validUuid } from './ids.js';
import { diskFileName, isTemporaryName, sumsPathOf } from './remote-layout.js';
import type { RemoteContext } from './remote-context.js';
import { listFolder, readDiskFolderOf } from './vm-folder.js';

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
    for (const key of await listFolder(ctx.layout.disksFolder(vmUuid))) {
      if (!ID_PATTERN.test(key)) continue;
      for (const path of await discardInFolder(ctx, vmUuid, key, backupId)) removed.push(ctx.layout.relative(path));
    }
    const backups = ctx.layout.backupsFolder(vmUuid);
    for (const name of await listFolder(backups)) {
      if (isTemporaryName(name) && name.startsWith(`.${backupId}.json.`) && (await removeIfPresent(join(backups, name)))) removed.push(ctx.layout.relative(join(backups, name)));
    }
    if (removed.length > 0) ctx.logger.info({ vm: vmUuid, backupId, removed }, 'uncommitted backup discarded');
    return { removedPaths: removed };
  });
}

/** The backup's disk, its checksums and its upload temporaries in one disk folder. The folder's
 * chain is read only when the backup's disk is there (the common call finds nothing). */
async function discardInFolder(ctx: RemoteContext, vmUuid: string, diskKey: string, backupId: string): Promise<string[]> {
  const folder = ctx.layout.diskFolder(vmUuid, diskKey);
  const name = diskFileName(backupId);
  const names = await listFolder(folder);
  const removed: string[] = [];
  if (names.includes(name) && (await readDiskFolderOf(ctx.layout, vmUuid, diskKey)).folder.needed.has(name)) {
    // Only a committed backup's chain could need it; never remove what a committed backup reads.
    ctx.logger.warn({ vm: vmUuid, path: ctx.layout.relative(join(folder, name)) }, 'disk of an uncommitted backup is needed by a committed one; kept');
    return removed;
  }
  const vhd = join(folder, name);
  for (const path of [sumsPathOf(vhd), vhd]) if (names.includes(basename(path)) && (await removeIfPresent(path))) removed.push(path);
  if (ctx.uploads.isLive(vmUuid, diskKey, backupId)) return removed;
  for (const entry of names) {
    if (isTemporaryName(entry) && entry.startsWith(`.${name}.`) && (await removeIfPresent(join(folder, entry)))) removed.push(join(folder, entry));
  }
  return removed;
}
