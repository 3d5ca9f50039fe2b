// What a crash of the storage agent (or of a host agent mid-backup) leaves on the remote, removed
// when the storage agent starts — after interrupted merges are finished (docs/remote-format.md §8)
// and before it serves anything, so no upload, commit or merge of this process is live and the
// grace period a garbage collector needs (§9) does not apply:
//   * every temporary (`.*.tmp`) in a disk folder and in a backups folder;
//   * disks no committed backup needs (received but never committed) and their `.sums`;
//   * `.sums` files without their disk;
//   * merge locks without a merge state file (their owner died after finishing).
// A host agent that had finished PutDisk and was about to commit then finds its disk gone: its
// commit fails NOT_FOUND, which it treats as retryable (it sends the backup again).
// Conservative where the remote is not understood: a VM with an unreadable metadata or VHD file
// keeps its disks (only temporaries go), and a folder whose merge could not be finished keeps
// everything but temporaries, for the operator to look at.
import { join } from 'node:path';
import { removeIfPresent } from './atomic-write.js';
import { listVms } from './list-backups.js';
import { backupIdOfDiskFile, isTemporaryName } from './remote-layout.js';
import type { RemoteContext } from './remote-context.js';
import { listFolder, readVmInventory, type DiskFolder } from './vm-inventory.js';

const MERGE_STATE = /^\..+\.merge\.json$/;
const MERGE_LOCK = /^\..+\.merge\.lock$/;

/** Removes the leftovers described above; returns their paths relative to the remote root. */
export async function removeLeftovers(ctx: RemoteContext): Promise<string[]> {
  const removed: string[] = [];
  const remove = async (path: string): Promise<void> => {
    if (await removeIfPresent(path)) removed.push(ctx.layout.relative(path));
  };
  for (const vm of await listVms(ctx)) {
    const inventory = await readVmInventory(ctx.layout, vm);
    const backups = ctx.layout.backupsFolder(vm);
    for (const name of await listFolder(backups)) if (isTemporaryName(name)) await remove(join(backups, name));
    for (const folder of inventory.disks.values()) {
      for (const path of await leftoversOf(folder, inventory.problems.length === 0)) await remove(path);
    }
  }
  if (removed.length > 0) ctx.logger.info({ removed: removed.length, paths: removed.slice(0, 50) }, 'leftovers of interrupted uploads removed');
  return removed;
}

/** The files of one disk folder that a crash left behind. */
async function leftoversOf(folder: DiskFolder, understood: boolean): Promise<string[]> {
  const names = await listFolder(folder.folder);
  const present = new Set(names);
  const mergePending = names.some((name) => MERGE_STATE.test(name));
  const out: string[] = [];
  for (const name of names) {
    if (isTemporaryName(name)) out.push(name);
    else if (MERGE_LOCK.test(name) && !present.has(name.replace(/\.lock$/, '.json'))) out.push(name);
    if (!understood || mergePending) continue;
    const identified = folder.model.files.some((file) => file.name === name);
    if (backupIdOfDiskFile(name) !== undefined && identified && !folder.needed.has(name)) {
      out.push(name);
      if (present.has(`${name}.sums`)) out.push(`${name}.sums`);
    } else if (name.endsWith('.vhd.sums') && !present.has(name.slice(0, -'.sums'.length))) {
      out.push(name);
    }
  }
  return out.map((name) => join(folder.folder, name));
}
