// Waits until the coordinator's catalogue lists every VM a lab pool holds — what the pool's
// host agent reports (its inventory event, at start and every inventoryIntervalSeconds). A
// policy selects only VMs the catalogue knows, and a report sent before the pool was
// registered is dropped, so the lab waits for the next one before it makes a policy; after a
// restore it waits the same way for the new VM to be listed.
import type { ControlClient } from '../../coordinator/api/control-client.js';
import { DeltachainError } from '../../shared/errors.js';
import type { LabAdminClient } from '../pool/index.js';

export class InventoryTimeoutError extends DeltachainError {
  override name = 'InventoryTimeoutError';
  constructor(pool: string, missing: string[], timeoutMs: number) {
    super('LAB_INVENTORY', `pool ${pool}: the catalogue still lacks ${missing.join(', ')} after ${timeoutMs / 1000} s; is its host agent running (see its log)?`);
  }
}

/** The names of the pool's VMs (not snapshots) the catalogue does not list yet. */
async function missingVms(control: ControlClient, pool: string, admin: LabAdminClient): Promise<string[]> {
  const listed = new Set((await control.listVms({ pool })).vms.map((vm) => vm.uuid));
  return (await admin.state()).vms.filter((vm) => !vm.isSnapshot && !listed.has(vm.uuid)).map((vm) => vm.name);
}

export async function awaitInventory(control: ControlClient, pool: string, admin: LabAdminClient, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let missing = await missingVms(control, pool, admin);
  while (missing.length > 0) {
    if (Date.now() > deadline) throw new InventoryTimeoutError(pool, missing, timeoutMs);
    await new Promise((resolve) => setTimeout(resolve, 250));
    missing = await missingVms(control, pool, admin);
  }
}
