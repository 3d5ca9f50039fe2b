// What a crash of the storage agent (or of a host agent mid-backup) leaves on the remote, removed
// when the storage agent starts — after interrupted merges are finished (docs/remote-format.md §8)
// and before it serves anything, so no upload, commit or merge of this process is live and the
// grace period a garbage collector needs (§9) does not apply:
//   * every temporary (`.*.tmp`) in a disk folder and in a backups folder;
//   * disks no committed backup needs (received but never committed) and their `.sums`;
//   * `.sums` files without their disk;
//   * merge locks without a merge state file (their owner died after finishing).
// A host agent that had finished PutDisk and was about to commit then finds its disk gone: its
// commit fails NOT_FOUND, and it sends the disks again.
// Conservative where the remote is not understood: a VM with an unreadable metadata or VHD file
// keeps its disks (only temporaries go), and a folder whose merge could not be finished keeps
// everything but temporaries, for the operator to look at. Cheap on a large remote: VHD headers
// are read (for the chain model) only in VMs that hold a disk no committed backup names.
import { join } from 'node:path';
import { removeIfPresent } from '../../shared/files/atomic-write.js';
import { listVms } from './list-backups.js';
import { backupIdOfDiskFile, isTemporaryName } from './remote-layout.js';
import type { RemoteContext } from './remote-context.js';
import { ID_PATTERN } from './ids.js';
import { listFolder, readBackups, readVmFolder, type Problem } from './vm-folder.js';

const MERGE_STATE = /^\..+\.merge\.json$/;
const MERGE_LOCK = /^\..+\.merge\.lock$/;

/** Removes the leftovers described above; returns their paths relative to the remote root. */
export async function removeLeftovers(ctx: RemoteContext): Promise<string[]> {
  const removed: string[] = [];
  for (const vm of await listVms(ctx)) {
    for (const path of await leftoversOfVm(ctx, vm)) if (await removeIfPresent(path)) removed.push(ctx.layout.relative(path));
  }
  if (removed.length > 0) ctx.logger.info({ removed: removed.length, paths: removed.slice(0, 50) }, 'leftovers of interrupted uploads removed');
  return removed;
}

async function leftoversOfVm(ctx: RemoteContext, vm: string): Promise<string[]> {
  const out: string[] = [];
  const backupsFolder = ctx.layout.backupsFolder(vm);
  for (const name of await listFolder(backupsFolder)) if (isTemporaryName(name)) out.push(join(backupsFolder, name));
  const problems: Problem[] = [];
  const named = new Set((await readBackups(ctx.layout, vm, problems)).flatMap((b) => b.disks.map((d) => `${d.key}/${d.file.split('/').pop()}`)));
  const folders = new Map<string, string[]>();
  for (const key of await listFolder(ctx.layout.disksFolder(vm))) {
    if (ID_PATTERN.test(key)) folders.set(key, await listFolder(ctx.layout.diskFolder(vm, key)));
  }
  let unnamed = false;
  for (const [key, names] of folders) {
    const present = new Set(names);
    for (const name of names) {
      const path = join(ctx.layout.diskFolder(vm, key), name);
      if (isTemporaryName(name)) out.push(path);
      else if (MERGE_LOCK.test(name) && !present.has(name.replace(/\.lock$/, '.json'))) out.push(path);
      else if (backupIdOfDiskFile(name) !== undefined && !named.has(`${key}/${name}`)) unnamed = true;
    }
  }
  if (problems.length > 0) return out;
  if (unnamed) return [...out, ...(await uncommittedDisks(ctx, vm))];
  for (const [key, names] of folders) out.push(...sumsWithoutDisk(names).map((name) => join(ctx.layout.diskFolder(vm, key), name)));
  return out;
}

/** Disks no committed backup needs (their ancestors included) and checksums without disk, folder by folder. */
async function uncommittedDisks(ctx: RemoteContext, vm: string): Promise<string[]> {
  const inventory = await readVmFolder(ctx.layout, vm);
  if (inventory.problems.length > 0) return [];
  const out: string[] = [];
  for (const folder of inventory.disks.values()) {
    const names = await listFolder(folder.folder);
    if (names.some((name) => MERGE_STATE.test(name))) continue;
    const present = new Set(names);
    for (const file of folder.model.files) {
      if (folder.needed.has(file.name)) continue;
      out.push(file.path);
      if (present.has(`${file.name}.sums`)) out.push(`${file.path}.sums`);
    }
    out.push(...sumsWithoutDisk(names).map((name) => join(folder.folder, name)));
  }
  return out;
}

function sumsWithoutDisk(names: readonly string[]): string[] {
  if (names.some((name) => MERGE_STATE.test(name))) return [];
  const present = new Set(names);
  return names.filter((name) => name.endsWith('.vhd.sums') && !present.has(name.slice(0, -'.sums'.length)));
}
