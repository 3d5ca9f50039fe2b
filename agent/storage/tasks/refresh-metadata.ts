// Rewrites the chain fields of a VM's committed backups (file size, block count, digest, parent,
// chain position) from the files, after a merge changed them (docs/remote-format.md §4, §8).
// Records, policy and sources are kept. A backup whose chain cannot be resolved is left as it is
// (a scan reports it). Safe to run any number of times.
import { isDeepStrictEqual } from 'node:util';
import { writeBackupMetadata, type DiskRecord } from '../backup-metadata.js';
import { buildDiskRecord } from '../disk-record.js';
import type { RemoteContext } from '../remote-context.js';
import { readVmFolder } from '../vm-folder.js';

/** Returns the ids of the backups whose metadata was rewritten. */
export async function refreshVmMetadata(ctx: RemoteContext, vmUuid: string): Promise<string[]> {
  const inventory = await readVmFolder(ctx.layout, vmUuid);
  const rewritten: string[] = [];
  for (const backup of inventory.backups) {
    const disks: DiskRecord[] = [];
    for (const disk of backup.disks) {
      const folder = inventory.disks.get(disk.key);
      const file = folder?.model.files.find((f) => `disks/${disk.key}/${f.name}` === disk.file);
      if (!folder || !file) {
        disks.push(disk);
        continue;
      }
      disks.push(await buildDiskRecord(folder, file, disk).catch(() => disk));
    }
    if (isDeepStrictEqual(disks, backup.disks)) continue;
    await writeBackupMetadata(ctx.layout.metadataPath(vmUuid, backup.backupId), { ...backup, disks });
    rewritten.push(backup.backupId);
  }
  return rewritten;
}
