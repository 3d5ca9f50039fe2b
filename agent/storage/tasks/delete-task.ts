// The `delete` task: remove a backup's metadata (it stops existing), then every file of it that
// no other committed backup's chain needs (its VHD and `.sums`). Files still needed by a later
// backup are kept and listed. Deleting a backup that is not there succeeds with existed = false,
// so a repeated delivery is harmless.
import { fsyncFolder } from '../../../shared/files/fsync-folder.js';
import { readBackupMetadata } from '../backup-metadata.js';
import { removeIfPresent } from '../../../shared/files/atomic-write.js';
import { validBackupId, validUuid } from '../ids.js';
import { sumsPathOf } from '../remote-layout.js';
import type { RemoteContext } from '../remote-context.js';
import { readVmFolder } from '../vm-folder.js';

export interface DeleteOutcome {
  existed: boolean;
  removedPaths: string[];
  keptPaths: string[];
}

export async function runDeleteTask(ctx: RemoteContext, input: { vmUuid: string; backupId: string }): Promise<DeleteOutcome> {
  const vmUuid = validUuid(input.vmUuid, 'VM uuid');
  const backupId = validBackupId(input.backupId);
  return ctx.locks.withVm(vmUuid, async () => {
    const metadataPath = ctx.layout.metadataPath(vmUuid, backupId);
    const metadata = await readBackupMetadata(metadataPath);
    if (!metadata) return { existed: false, removedPaths: [], keptPaths: [] };
    await removeIfPresent(metadataPath);
    await fsyncFolder(ctx.layout.backupsFolder(vmUuid));
    const out: DeleteOutcome = { existed: true, removedPaths: [ctx.layout.relative(metadataPath)], keptPaths: [] };
    const inventory = await readVmFolder(ctx.layout, vmUuid);
    for (const disk of metadata.disks) {
      const folder = inventory.disks.get(disk.key);
      const name = disk.file.slice(`disks/${disk.key}/`.length);
      const file = folder?.model.files.find((f) => f.name === name);
      if (!folder || !file) continue;
      if (folder.needed.has(name)) {
        out.keptPaths.push(ctx.layout.relative(file.path));
        continue;
      }
      await removeIfPresent(sumsPathOf(file.path));
      await removeIfPresent(file.path);
      await fsyncFolder(folder.folder);
      out.removedPaths.push(ctx.layout.relative(file.path), ctx.layout.relative(sumsPathOf(file.path)));
    }
    ctx.logger.info({ vm: vmUuid, backupId, removed: out.removedPaths.length, kept: out.keptPaths.length }, 'backup deleted');
    return out;
  });
}
