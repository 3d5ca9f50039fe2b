// Tells the coordinator's catalogue which VMs a lab pool holds — a stand-in for the inventory
// report a host agent should send. No such report exists yet (docs/catalogue.md, "VM
// inventory": nothing fills the `vms` table), and a policy selects only VMs the catalogue
// knows; so the lab writes the pool's VMs (not snapshots) into `vms` itself, as a host agent's
// report would, with the pool's name as the coordinator knows it.
import * as catalog from '../../coordinator/catalog/index.js';
import type { Catalog } from '../../coordinator/catalog/index.js';
import type { LabAdminClient } from '../lab/index.js';

export interface InventoryVm {
  uuid: string;
  name: string;
  powerState: string;
}

/** Records the pool's VMs in the catalogue; returns them. */
export async function syncInventory(sql: Catalog, poolName: string, admin: LabAdminClient, now = new Date()): Promise<InventoryVm[]> {
  const summary = await admin.state();
  const vms = summary.vms.filter((vm) => !vm.isSnapshot).map((vm) => ({ uuid: vm.uuid, name: vm.name, powerState: vm.powerState }));
  for (const vm of vms) {
    await catalog.upsertVm(sql, { uuid: vm.uuid, poolName, nameLabel: vm.name, tags: [], powerState: vm.powerState, lastSeenAt: now });
  }
  return vms;
}
