// Chain views the planner needs: the tail of each VM disk's newest chain on a remote, and the
// dependencies between committed backups (through their disks' parents) for retention.
import type { ChainTail, RetentionBackup } from '../planner/index.js';
import type { Queryable } from './connect-catalogue.js';
import { chainTailOf, damagedInChain, type TailRow } from './planning-views.js';

/**
 * Disk key → the newest present disk of that VM disk on the remote (with damage in its chain, if
 * any). Ties on taken_at (second precision) are broken by created_at: a full that starts a new
 * chain in the same second as the old chain's last delta must win over that delta's higher
 * position, or the next run plans a full ("the remote lacks the base").
 */
export async function chainTails(db: Queryable, vmUuid: string, remote: string): Promise<Record<string, ChainTail>> {
  const rows = await db<TailRow[]>`
    select t.*, ${damagedInChain(db)} as damaged_backup_id
    from (
      select distinct on (d.disk_key) d.disk_key, d.footer_uuid, d.position, d.chain_id
      from disks d join backups b on b.key = d.backup_key
      where b.vm_uuid = ${vmUuid} and b.remote_name = ${remote} and b.status = 'committed' and d.state = 'present'
      order by d.disk_key, b.taken_at desc, b.created_at desc, d.position desc) t`;
  return Object.fromEntries(rows.map((r) => [r.diskKey, chainTailOf(r)]));
}

/** The committed backups of a VM on a remote with the backups their delta disks depend on. */
export async function retentionView(db: Queryable, vmUuid: string, remote: string): Promise<RetentionBackup[]> {
  return db<RetentionBackup[]>`
    select b.id, b.taken_at,
           coalesce(array_agg(distinct pb.id) filter (where pb.id is not null), '{}') as parents
    from backups b
    left join disks d on d.backup_key = b.key and d.state = 'present'
    left join disks p on p.id = d.parent_id
    left join backups pb on pb.key = p.backup_key
    where b.vm_uuid = ${vmUuid} and b.remote_name = ${remote} and b.status = 'committed'
    group by b.key order by b.taken_at, b.created_at, b.id`;
}

/** VM and remote pairs holding committed backups written by a policy (retention's work list). */
export async function backupGroupsOfPolicy(db: Queryable, policyId: string): Promise<{ vmUuid: string; remoteName: string }[]> {
  return db<{ vmUuid: string; remoteName: string }[]>`
    select distinct vm_uuid, remote_name from backups
    where policy_id = ${policyId} and status = 'committed' order by vm_uuid, remote_name`;
}
