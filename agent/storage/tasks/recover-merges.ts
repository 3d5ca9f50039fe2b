// Finishes every interrupted merge on the remote (docs/remote-format.md §8): a storage agent runs
// this at start, before taking new work, and a scan runs it first. For each disk folder: resume
// each merge whose state file exists, finish pending `.sums.merged` tables, remove the checksums
// the merged parent left without their disk (§8 step 4: the merge's last removal, whose parent
// name only the interrupted run knew), then rewrite every VM's metadata chain fields. Returns the
// child paths whose merge was finished.
import { join } from 'node:path';
import { findInterruptedMerges, mergeVhd } from '../../../shared/vhd/merge.js';
import { errorMessage } from '../../../shared/errors.js';
import { removeIfPresent } from '../../../shared/files/atomic-write.js';
import { backupIdOfDiskFile } from '../remote-layout.js';
import type { RemoteContext } from '../remote-context.js';
import { listFolder } from '../vm-folder.js';
import { listVms } from '../list-backups.js';
import { ID_PATTERN } from '../ids.js';
import { finishChecksums } from './merge-task.js';
import { refreshVmMetadata } from './refresh-metadata.js';

const MERGED_SUMS = /^\.(.+\.vhd)\.sums\.merged$/;

/** Runs `fn` holding the VM's lock; a caller that already holds every lock (scan) passes a direct runner. */
export type VmRunner = <T>(vmUuid: string, fn: () => Promise<T>) => Promise<T>;

export async function recoverMerges(ctx: RemoteContext, runner?: VmRunner): Promise<{ resumed: string[]; failed: { path: string; reason: string }[] }> {
  const locked: VmRunner = runner ?? ((vm, fn) => ctx.locks.withVm(vm, fn));
  // Also alone on the VM's chains: a scan runs this while GetDisk and verify may be reading.
  const withVm: VmRunner = (vm, fn) => locked(vm, () => ctx.locks.chains.write(vm, fn));
  const resumed: string[] = [];
  const failed: { path: string; reason: string }[] = [];
  for (const vm of await listVms(ctx)) {
    for (const key of await listFolder(ctx.layout.disksFolder(vm))) {
      if (!ID_PATTERN.test(key)) continue;
      const folder = ctx.layout.diskFolder(vm, key);
      let finished = false;
      for (const child of await findInterruptedMerges(folder).catch(() => [])) {
        try {
          await withVm(vm, () => mergeVhd(child));
          resumed.push(ctx.layout.relative(child));
          finished = true;
          ctx.logger.info({ vm, path: ctx.layout.relative(child) }, 'interrupted merge finished');
        } catch (error) {
          failed.push({ path: ctx.layout.relative(child), reason: errorMessage(error) });
          ctx.logger.error({ vm, path: ctx.layout.relative(child), err: error }, 'interrupted merge could not be finished');
        }
      }
      for (const name of await listFolder(folder)) {
        const match = MERGED_SUMS.exec(name);
        if (!match || backupIdOfDiskFile(match[1]!) === undefined) continue;
        if (await withVm(vm, () => finishChecksums(join(folder, match[1]!)).catch(() => false))) finished = true;
      }
      if (finished) await withVm(vm, () => removeSumsWithoutDisk(ctx, folder));
    }
    // Every VM, not only those with a merge finished here: a crash between a merge's step 4 (its
    // checksums in place) and step 5 (the metadata rewritten) leaves nothing else to find, and
    // stale metadata would make every read of the chain report its checksums as damaged.
    await withVm(vm, () => refreshVmMetadata(ctx, vm));
  }
  return { resumed, failed };
}

/** Removes `<x>.vhd.sums` files whose `<x>.vhd` is gone, unless a merge in the folder is still unfinished. */
async function removeSumsWithoutDisk(ctx: RemoteContext, folder: string): Promise<void> {
  const names = await listFolder(folder);
  if (names.some((name) => /^\..+\.merge\.json$/.test(name))) return;
  const present = new Set(names);
  for (const name of names) {
    if (!name.endsWith('.vhd.sums') || present.has(name.slice(0, -'.sums'.length))) continue;
    if (await removeIfPresent(join(folder, name))) ctx.logger.info({ path: ctx.layout.relative(join(folder, name)) }, 'checksums of a merged parent removed');
  }
}
