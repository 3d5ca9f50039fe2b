// HasBase: does the remote hold a committed chain of this VM whose tail (newest needed disk)
// has this footer uuid? That is the initial-seed and "delta possible" check of the planner
// (docs/remote-format.md §5): the reference snapshot's VDI uuid must be a chain tail.
import { validUuid } from './ids.js';
import type { RemoteContext } from './remote-context.js';
import { readVmFolder } from './vm-folder.js';

export interface BaseLocation {
  backupId: string;
  diskKey: string;
}

export async function findBase(ctx: RemoteContext, vmUuid: string, footerUuid: string): Promise<BaseLocation | undefined> {
  validUuid(vmUuid, 'VM uuid');
  validUuid(footerUuid, 'footer uuid');
  const inventory = await readVmFolder(ctx.layout, vmUuid);
  for (const folder of inventory.disks.values()) {
    const file = folder.model.files.find((f) => f.footerUuid === footerUuid && folder.needed.has(f.name));
    if (!file) continue;
    const hasChild = (folder.model.children.get(file.name) ?? []).some((c) => folder.needed.has(c.name));
    if (hasChild) continue;
    const owner = inventory.backups.find((b) => b.disks.some((d) => d.key === folder.diskKey && d.file.endsWith(`/${file.name}`)));
    if (owner) return { backupId: owner.backupId, diskKey: folder.diskKey };
  }
  return undefined;
}
