// Turns XAPI records (VM, VBD and VDI `get_all_records` maps) into the inventory a host agent
// reports: the pool's real VMs — no snapshots, templates or control domain — each with its
// name, tags, power state and the uuid and size of every disk VDI (not CD drives). Pure: the
// caller fetches the records.
import type { InventoryVm } from '../../../shared/proto/gen/deltachain/tasks/v1/event.js';
import type { XapiRef, XapiVbd, XapiVdi, XapiVm } from '../xapi/xapi-records.js';

export interface InventoryRecords {
  vms: Record<XapiRef, XapiVm>;
  vbds: Record<XapiRef, XapiVbd>;
  vdis: Record<XapiRef, XapiVdi>;
}

export function isInventoried(vm: XapiVm): boolean {
  return !vm.is_a_snapshot && !vm.is_a_template && vm.is_control_domain !== true;
}

function disksOf(vm: XapiVm, records: InventoryRecords): InventoryVm['disks'] {
  const disks: InventoryVm['disks'] = [];
  for (const vbdRef of vm.VBDs ?? []) {
    const vbd = records.vbds[vbdRef];
    if (!vbd || vbd.type !== 'Disk' || vbd.empty) continue;
    const vdi = records.vdis[vbd.VDI];
    if (!vdi) continue;
    disks.push({ vdiUuid: vdi.uuid, virtualSize: Number(vdi.virtual_size) });
  }
  return disks;
}

/** The inventoried VMs, ordered by uuid (two reports of an unchanged pool are equal). */
export function buildInventory(records: InventoryRecords): InventoryVm[] {
  return Object.values(records.vms)
    .filter(isInventoried)
    .map((vm) => ({
      uuid: vm.uuid.toLowerCase(),
      nameLabel: vm.name_label,
      tags: Array.isArray(vm.tags) ? (vm.tags as unknown[]).map(String) : [],
      powerState: vm.power_state,
      disks: disksOf(vm, records),
    }))
    .sort((a, b) => (a.uuid < b.uuid ? -1 : a.uuid > b.uuid ? 1 : 0));
}
