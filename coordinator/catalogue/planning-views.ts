// The planner's views of many VMs at once (set-based forms of listReferences, chainTails and
// retentionView), for batches of tasks: one statement per view for a whole batch instead of one
// per task. Results are keyed by `vmUuid` (references: `policyId/vmUuid`; chains and retention:
// `vmUuid@remote`); a key absent means nothing recorded.
import type { ChainTail, ReferenceView, RetentionBackup } from '../planner/index.js';
import type { Queryable } from './connect-catalogue.js';

export const referenceKey = (policyId: string, vmUuid: string) => `${policyId}/${vmUuid}`;
export const chainKey = (vmUuid: string, remote: string) => `${vmUuid}@${remote}`;

const group = <T>(rows: readonly T[], keyOf: (row: T) => string): Map<string, T[]> => {
  const out = new Map<string, T[]>();
  for (const row of rows) {
    const key = keyOf(row);
    const list = out.get(key);
    if (list) list.push(row);
    else out.set(key, [row]);
  }
  return out;
};

/** The reference snapshots of each (policy, VM), every remote, ordered by remote. */
export async function referencesOf(db: Queryable, pairs: readonly { policyId: string; vmUuid: string }[]): Promise<Map<string, ReferenceView[]>> {
  if (pairs.length === 0) return new Map();
  const rows = await db<{ policyId: string; vmUuid: string; remoteName: string; snapshotUuid: string; vdis: Record<string, string>; goneAt: Date | null }[]>`
    select r.policy_id, r.vm_uuid, r.remote_name, r.snapshot_uuid, r.vdis, r.gone_at
    from reference_snapshots r
    join unnest(${pairs.map((p) => p.policyId)}::uuid[], ${pairs.map((p) => p.vmUuid)}::uuid[]) as k(policy_id, vm_uuid)
      on r.policy_id = k.policy_id and r.vm_uuid = k.vm_uuid
    order by r.policy_id, r.vm_uuid, r.remote_name`;
  const grouped = group(rows, (r) => referenceKey(r.policyId, r.vmUuid));
  return new Map([...grouped].map(([key, list]) => [key, list.map((r) => ({ remote: r.remoteName, snapshotUuid: r.snapshotUuid, vdis: r.vdis, gone: r.goneAt !== null }))]));
}

/**
 * Per (VM, remote): disk key → the newest present disk of that VM disk (chainTails, many at once),
 * with the oldest backup of its chain found damaged, if any.
 */
export async function chainTailsOf(db: Queryable, pairs: readonly { vmUuid: string; remote: string }[]): Promise<Map<string, Record<string, ChainTail>>> {
  if (pairs.length === 0) return new Map();
  const rows = await db<TailRow[]>`
    select t.*, ${damagedInChain(db)} as damaged_backup_id
    from (
      select distinct on (b.vm_uuid, b.remote_name, d.disk_key) b.vm_uuid, b.remote_name, d.disk_key, d.footer_uuid, d.position, d.chain_id
      from unnest(${pairs.map((p) => p.vmUuid)}::uuid[], ${pairs.map((p) => p.remote)}::text[]) as k(vm_uuid, remote_name)
      join backups b on b.vm_uuid = k.vm_uuid and b.remote_name = k.remote_name and b.status = 'committed'
      join disks d on d.backup_key = b.key and d.state = 'present'
      order by b.vm_uuid, b.remote_name, d.disk_key, b.taken_at desc, b.created_at desc, d.position desc) t`;
  const grouped = group(rows, (r) => chainKey(r.vmUuid, r.remoteName));
  return new Map([...grouped].map(([key, list]) => [key, Object.fromEntries(list.map((r) => [r.diskKey, chainTailOf(r)]))]));
}

export interface TailRow {
  vmUuid: string;
  remoteName: string;
  diskKey: string;
  footerUuid: string;
  position: number;
  damagedBackupId: string | null;
}

export const chainTailOf = (r: TailRow): ChainTail => ({ footerUuid: r.footerUuid, position: r.position, ...(r.damagedBackupId === null ? {} : { damagedBackupId: r.damagedBackupId }) });

/**
 * SQL: the oldest backup with a damage finding on a disk of the chain `t.chain_id` (any state: a
 * damaged disk merged into its child left its damage there), or null.
 */
export const damagedInChain = (db: Queryable) => db`(
  select db.id from disks x join backups db on db.key = x.backup_key
  where x.chain_id = t.chain_id and exists (select 1 from disk_damage dd where dd.disk_id = x.id)
  order by x.position limit 1)`;

/** Per (VM, remote): the committed backups with the backups they depend on (retentionView, many at once). */
export async function retentionViewsOf(db: Queryable, pairs: readonly { vmUuid: string; remote: string }[]): Promise<Map<string, RetentionBackup[]>> {
  if (pairs.length === 0) return new Map();
  const rows = await db<(RetentionBackup & { vmUuid: string; remoteName: string })[]>`
    select b.vm_uuid, b.remote_name, b.id, b.taken_at,
           coalesce(array_agg(distinct pb.id) filter (where pb.id is not null), '{}') as parents
    from unnest(${pairs.map((p) => p.vmUuid)}::uuid[], ${pairs.map((p) => p.remote)}::text[]) as k(vm_uuid, remote_name)
    join backups b on b.vm_uuid = k.vm_uuid and b.remote_name = k.remote_name and b.status = 'committed'
    left join disks d on d.backup_key = b.key and d.state = 'present'
    left join disks p on p.id = d.parent_id
    left join backups pb on pb.key = p.backup_key
    group by b.key order by b.vm_uuid, b.remote_name, b.taken_at, b.id`;
  const grouped = group(rows, (r) => chainKey(r.vmUuid, r.remoteName));
  return new Map([...grouped].map(([key, list]) => [key, list.map((r) => ({ id: r.id, takenAt: r.takenAt, parents: r.parents }))]));
}

/** (VM, remote) pairs, of those given, with a merge or delete task queued or in flight. */
export async function pairsWithActiveRetention(db: Queryable, pairs: readonly { vmUuid: string; remote: string }[]): Promise<Set<string>> {
  if (pairs.length === 0) return new Set();
  const rows = await db<{ vmUuid: string; remoteName: string }[]>`
    select distinct t.vm_uuid, t.remote_name
    from unnest(${pairs.map((p) => p.vmUuid)}::uuid[], ${pairs.map((p) => p.remote)}::text[]) as k(vm_uuid, remote_name)
    join tasks t on t.vm_uuid = k.vm_uuid and t.remote_name = k.remote_name
    where t.state in ('queued', 'dispatched', 'running') and t.kind in ('merge', 'delete')`;
  return new Set(rows.map((r) => chainKey(r.vmUuid, r.remoteName)));
}
