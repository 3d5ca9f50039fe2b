// What the coordinator's metrics read from the catalogue at scrape time (one query per function):
// tasks by kind and state, each disk chain's length on each remote, and the newest committed
// backup of each VM on each remote.
import type { ChainLengthFact, LastGoodBackupFact, TaskCount } from '../../shared/observability/index.js';
import type { Queryable } from './connect-catalogue.js';

export async function taskCounts(db: Queryable): Promise<TaskCount[]> {
  return db<TaskCount[]>`select kind, state, count(*)::int as count from tasks group by kind, state order by kind, state`;
}

/** Present backups per disk chain (chains not deleted). */
export async function chainLengths(db: Queryable): Promise<ChainLengthFact[]> {
  return db<ChainLengthFact[]>`
    select c.remote_name as remote, c.vm_uuid, c.disk_key, count(d.id)::int as length
    from chains c join disks d on d.chain_id = c.id and d.state = 'present'
    where c.deleted_at is null
    group by c.id, c.remote_name, c.vm_uuid, c.disk_key
    order by c.remote_name, c.vm_uuid, c.disk_key`;
}

/** The newest committed backup per VM and remote, with the VM's name as that backup recorded it. */
export async function lastGoodBackups(db: Queryable): Promise<LastGoodBackupFact[]> {
  return db<LastGoodBackupFact[]>`
    select distinct on (vm_uuid, remote_name) remote_name as remote, vm_uuid, vm_name, taken_at
    from backups where status = 'committed'
    order by vm_uuid, remote_name, taken_at desc`;
}
