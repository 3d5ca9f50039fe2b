// The vms table: VMs as the host agents last reported them (vm-inventory.ts applies their
// reports). A policy's selection is resolved against it (by uuid, by tag, by pool) when a run
// is recorded; a VM its pool's last report did not list (gone_at set) is neither listed nor selected.
import type { VmSelection } from '../policy/index.js';
import type { Queryable } from './connect-catalogue.js';
import { classifyCatalogueError } from './catalogue-errors.js';
import type { InventoryDisk } from './vm-inventory.js';

export interface VmRecord {
  uuid: string;
  poolName: string;
  nameLabel: string;
  tags: string[];
  powerState: string;
  lastSeenAt: Date;
  /** Set when a later inventory report of its pool no longer listed it. */
  goneAt?: Date | null;
  /** Its disks as last reported. */
  disks?: InventoryDisk[];
}

export async function upsertVm(db: Queryable, vm: VmRecord): Promise<void> {
  try {
    await db`
      insert into vms (uuid, pool_name, name_label, tags, power_state, last_seen_at)
      values (${vm.uuid}, ${vm.poolName}, ${vm.nameLabel}, ${vm.tags}, ${vm.powerState}, ${vm.lastSeenAt})
      on conflict (uuid) do update set pool_name = excluded.pool_name, name_label = excluded.name_label,
        tags = excluded.tags, power_state = excluded.power_state, last_seen_at = excluded.last_seen_at
      where vms.last_seen_at <= excluded.last_seen_at`;
  } catch (error) {
    throw classifyCatalogueError(error, `recording VM ${vm.uuid} of pool ${vm.poolName}`);
  }
}

export async function listVms(db: Queryable, filter: { pool?: string } = {}): Promise<VmRecord[]> {
  if (filter.pool !== undefined) {
    return db<VmRecord[]>`select * from vms where pool_name = ${filter.pool} and gone_at is null order by name_label, uuid`;
  }
  return db<VmRecord[]>`select * from vms where gone_at is null order by pool_name, name_label, uuid`;
}

/** The VMs a selection names, among those known: by uuid, carrying any tag, or in any pool. */
export async function selectVms(db: Queryable, selection: VmSelection): Promise<VmRecord[]> {
  return db<VmRecord[]>`
    select * from vms
    where gone_at is null
      and (uuid = any(${selection.vmUuids}::uuid[])
       or tags && ${selection.tags}::text[]
       or pool_name = any(${selection.pools}::text[]))
    order by pool_name, name_label, uuid`;
}
