// Applies a host agent's inventory report to the vms table, in one transaction: each reported
// VM is upserted (present again: gone_at cleared), and every VM of the pool the report does not
// list — and that no newer report has seen — is marked gone. Idempotent: the same report
// applied twice changes nothing; an older report arriving late overwrites nothing newer (rows
// move only when the report is at least as new as their last_seen_at, and a gone VM comes back
// only in a report newer than the one that found it gone). A report never takes a VM from another
// pool that still has it (not gone): the report is its host agent's word only about its own pool,
// and a VM moved between pools moves once its old pool's report has found it gone. Without this,
// a host agent of one pool could claim another pool's VMs — and with them their backup tasks.
import type { Catalogue } from './connect-catalogue.js';
import { classifyCatalogueError, NotFoundError } from './catalogue-errors.js';

export interface InventoryDisk {
  vdiUuid: string;
  /** Bytes. */
  virtualSize: number;
}

export interface InventoryVmInput {
  uuid: string;
  nameLabel: string;
  tags: string[];
  powerState: string;
  disks: InventoryDisk[];
}

export interface InventoryReport {
  poolName: string;
  /** The XAPI pool uuid ('' when unknown). */
  poolUuid: string;
  /** When the agent read the pool. */
  at: Date;
  vms: InventoryVmInput[];
}

export interface InventoryOutcome {
  upserted: number;
  /** VMs newly marked gone by this report. */
  gone: number;
  /** Reported VMs another pool still has: left there. */
  claimedElsewhere: string[];
}

/** Throws NotFoundError when the pool is not in the catalogue (add it first). */
export async function applyInventory(sql: Catalogue, report: InventoryReport): Promise<InventoryOutcome> {
  const { poolName, at } = report;
  try {
    return await sql.begin(async (tx) => {
      const [pool] = await tx<{ name: string }[]>`select name from pools where name = ${poolName} for update`;
      if (!pool) throw new NotFoundError(`pool ${poolName} is not in the catalogue; add it with 'deltachain pool add ${poolName}' and its host agents' next inventory report fills its VMs`);
      if (report.poolUuid !== '') await tx`update pools set xapi_uuid = ${report.poolUuid} where name = ${poolName}`;
      const reportedUuids = report.vms.map((vm) => vm.uuid);
      const elsewhere = await tx<{ uuid: string }[]>`
        select uuid::text from vms where uuid = any(${reportedUuids}::uuid[]) and pool_name <> ${poolName} and gone_at is null`;
      const claimedElsewhere = elsewhere.map((row) => row.uuid);
      for (const vm of report.vms.filter((v) => !claimedElsewhere.includes(v.uuid))) {
        await tx`
          insert into vms (uuid, pool_name, name_label, tags, power_state, last_seen_at, gone_at, disks)
          values (${vm.uuid}, ${poolName}, ${vm.nameLabel}, ${vm.tags}, ${vm.powerState}, ${at}, null, ${tx.json(vm.disks as never)})
          on conflict (uuid) do update set pool_name = excluded.pool_name, name_label = excluded.name_label,
            tags = excluded.tags, power_state = excluded.power_state, last_seen_at = excluded.last_seen_at,
            gone_at = null, disks = excluded.disks
          where vms.last_seen_at <= excluded.last_seen_at and (vms.gone_at is null or vms.gone_at < excluded.last_seen_at)
            and (vms.pool_name = excluded.pool_name or vms.gone_at is not null)`;
      }
      const reported = reportedUuids;
      const gone = await tx`
        update vms set gone_at = ${at}
        where pool_name = ${poolName} and gone_at is null and last_seen_at < ${at}
          and not (uuid = any(${reported}::uuid[]))`;
      return { upserted: report.vms.length - claimedElsewhere.length, gone: gone.count, claimedElsewhere };
    });
  } catch (error) {
    throw classifyCatalogueError(error, `recording the inventory of pool ${poolName}`);
  }
}
