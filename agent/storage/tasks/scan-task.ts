// The `scan` task: report every committed backup and chain on the remote (how a coordinator
// rebuilds its catalogue or adopts a seeded copy), and find — optionally remove — garbage as
// docs/remote-format.md §9 defines it. Runs alone over the remote (no upload commit, merge or
// delete interleaves) and finishes interrupted merges first. Files of live uploads and files
// younger than the grace period are never removed. Unknown files are reported, never removed.
import { rmdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { removeIfPresent } from '../../../shared/files/atomic-write.js';
import { chainsOf } from '../chain-model.js';
import { ID_PATTERN } from '../ids.js';
import { listBackups, listVms, type BackupSummary } from '../list-backups.js';
import { backupIdOfDiskFile, isTemporaryName } from '../remote-layout.js';
import type { RemoteContext } from '../remote-context.js';
import { listFolder, readVmFolder, type DiskFolder } from '../vm-folder.js';
import { recoverMerges } from './recover-merges.js';

export interface ChainSummary {
  vmUuid: string;
  diskKey: string;
  footerUuids: string[];
  backupIds: string[];
}

export interface GarbageItem {
  path: string;
  reason: string;
  size: number;
  removed: boolean;
}

export interface ScanOutcome {
  backups: BackupSummary[];
  chains: ChainSummary[];
  garbage: GarbageItem[];
  resumedMerges: string[];
}

export async function runScanTask(ctx: RemoteContext, input: { removeGarbage: boolean; graceSeconds: number }): Promise<ScanOutcome> {
  return ctx.locks.withAll(async () => {
    const recovered = await recoverMerges(ctx, (_vm, fn) => fn());
    const out: ScanOutcome = { backups: [], chains: [], garbage: [], resumedMerges: recovered.resumed };
    for (const failure of recovered.failed) out.garbage.push({ path: failure.path, reason: `merge could not be finished: ${failure.reason}`, size: 0, removed: false });
    const live = ctx.uploads.temporaries();
    const cutoff = ctx.now().getTime() - input.graceSeconds * 1000;
    const consider = async (path: string, reason: string, garbage = true): Promise<void> => {
      const info = await stat(path).catch(() => undefined);
      if (!info) return;
      const removable = garbage && input.removeGarbage && info.mtimeMs <= cutoff && !live.has(path);
      if (removable) await removeIfPresent(path);
      out.garbage.push({ path: ctx.layout.relative(path), reason, size: info.size, removed: removable });
    };
    for (const vm of await listVms(ctx)) {
      const inventory = await readVmFolder(ctx.layout, vm);
      for (const problem of inventory.problems) out.garbage.push({ path: problem.path, reason: `unreadable: ${problem.reason}`, size: 0, removed: false });
      for (const name of await listFolder(ctx.layout.backupsFolder(vm))) {
        if (isTemporaryName(name)) await consider(join(ctx.layout.backupsFolder(vm), name), 'temporary');
      }
      for (const folder of inventory.disks.values()) {
        out.chains.push(...describeChains(vm, folder, inventory.backups));
        await collectFolder(folder, consider);
        if (input.removeGarbage && (await listFolder(folder.folder)).length === 0) await rmdir(folder.folder).catch(() => undefined);
      }
      for (const key of await listFolder(ctx.layout.disksFolder(vm))) {
        if (!ID_PATTERN.test(key)) out.garbage.push({ path: ctx.layout.relative(join(ctx.layout.disksFolder(vm), key)), reason: 'unknown', size: 0, removed: false });
      }
    }
    out.backups = await listBackups(ctx, '');
    return out;
  });
}

function describeChains(vmUuid: string, folder: DiskFolder, backups: { backupId: string; disks: { key: string; file: string }[] }[]): ChainSummary[] {
  return chainsOf(folder.model, folder.needed).map((chain) => {
    const files = new Set(chain.map((f) => `disks/${folder.diskKey}/${f.name}`));
    return {
      vmUuid,
      diskKey: folder.diskKey,
      footerUuids: chain.map((f) => f.footerUuid),
      backupIds: backups.filter((b) => b.disks.some((d) => d.key === folder.diskKey && files.has(d.file))).map((b) => b.backupId),
    };
  });
}

/** Classifies every entry of a disk folder by the rules of §9. */
async function collectFolder(folder: DiskFolder, consider: (path: string, reason: string, garbage?: boolean) => Promise<void>): Promise<void> {
  const names = await listFolder(folder.folder);
  const present = new Set(names);
  const orphans = new Set(folder.model.orphans.map((f) => f.name));
  for (const name of names) {
    const path = join(folder.folder, name);
    if (isTemporaryName(name)) await consider(path, 'temporary');
    else if (backupIdOfDiskFile(name) !== undefined) {
      if (folder.needed.has(name)) continue;
      await consider(path, orphans.has(name) ? 'orphan: its parent is missing' : 'uncommitted: no committed backup needs it');
      if (present.has(`${name}.sums`)) await consider(join(folder.folder, `${name}.sums`), 'checksums of an uncommitted disk');
    } else if (name.endsWith('.vhd.sums')) {
      if (!present.has(name.slice(0, -'.sums'.length))) await consider(path, 'checksums without their disk');
    } else if (/^\..+\.vhd\.sums\.merged$/.test(name)) {
      await consider(path, 'checksums of a merge that will not finish');
    } else if (/^\..+\.merge\.lock$/.test(name)) {
      if (!present.has(name.replace(/\.lock$/, '.json'))) await consider(path, 'stale merge lock');
    } else if (/^\..+\.merge\.json$/.test(name)) {
      continue; // an interrupted merge recovery could not finish: reported above, kept
    } else {
      await consider(path, 'unknown file: not part of the format, left alone', false);
    }
  }
}
