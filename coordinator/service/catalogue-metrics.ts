// The coordinator's metrics, read from the catalogue at scrape time (one query per function):
// tasks by kind and state, each disk chain's length on each remote, and the newest committed
// backup of each VM on each remote (timestamp and age). Nothing is cached: a scrape sees what
// the catalogue holds now, and a VM or chain that is gone disappears from the exposition.
import type { BackupStateFacts, ChainLengthFact, LastGoodBackupFact, ProcessMetrics, TaskCount } from '../../shared/observability/index.js';
import { BackupStateMetrics, TaskMetrics } from '../../shared/observability/index.js';
import type { Queryable } from '../catalogue/index.js';

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

/** Registers the catalogue's metric families on the process's registry and refreshes them per scrape. */
export function registerCatalogueMetrics(metrics: ProcessMetrics, db: Queryable, clock: () => Date): void {
  const tasks = new TaskMetrics(metrics.registry);
  const backups = new BackupStateMetrics(metrics.registry);
  metrics.addRefresher('catalogue', async () => {
    const [counts, chains, lastGood] = await Promise.all([taskCounts(db), chainLengths(db), lastGoodBackups(db)]);
    const facts: BackupStateFacts = { chains, lastGood };
    tasks.setCounts(counts);
    backups.update(facts, clock());
  });
}
