// What releasing a policy's reference snapshots reads and writes in the catalogue: the
// references a policy holds (with each VM's pool, where the snapshot is), which policies have
// backups queued or in flight on a pool (a release waits for them), and the rows forgotten once
// a pool's host agent destroyed the snapshots (planner/plan-releases.ts decides the rest).
import type { HeldReference } from '../planner/index.js';
import type { Queryable } from './connect-catalogue.js';

/** The policy's references, with the pool of each VM (VMs no pool ever reported are left out). */
export async function referencesOfPolicy(db: Queryable, policyId: string): Promise<HeldReference[]> {
  return db<HeldReference[]>`
    select r.vm_uuid, r.remote_name as remote, v.pool_name as pool
    from reference_snapshots r join vms v on v.uuid = r.vm_uuid
    where r.policy_id = ${policyId}
    order by v.pool_name, r.vm_uuid, r.remote_name`;
}

export const policyPoolKey = (policyId: string, pool: string) => `${policyId}@${pool}`;

/** Of the (policy, pool) pairs given, those with a backup task queued, dispatched or running. */
export async function pairsWithActiveBackups(db: Queryable, pairs: readonly { policyId: string; pool: string }[]): Promise<Set<string>> {
  if (pairs.length === 0) return new Set();
  const rows = await db<{ policyId: string; pool: string }[]>`
    select distinct t.payload->>'policyId' as policy_id, t.address as pool
    from tasks t
    join unnest(${pairs.map((p) => p.policyId)}::text[], ${pairs.map((p) => p.pool)}::text[]) as k(policy_id, pool)
      on t.payload->>'policyId' = k.policy_id and t.address = k.pool
    where t.kind = 'backup' and t.state in ('queued', 'dispatched', 'running')`;
  return new Set(rows.map((r) => policyPoolKey(r.policyId, r.pool)));
}

/**
 * After a release on `pool`: the policy's reference rows of those VMs (empty: every VM of the
 * pool) for the remotes not kept are gone.
 */
export async function forgetReleasedReferences(db: Queryable, release: { policyId: string; pool: string; vmUuids: readonly string[]; keepRemotes: readonly string[] }): Promise<number> {
  const { policyId, pool, vmUuids, keepRemotes } = release;
  const deleted = await db`
    delete from reference_snapshots
    where policy_id = ${policyId}
      and remote_name <> all(${keepRemotes as string[]}::text[])
      and (case when cardinality(${vmUuids as string[]}::uuid[]) = 0
                then vm_uuid in (select uuid from vms where pool_name = ${pool})
                else vm_uuid = any(${vmUuids as string[]}::uuid[]) end)`;
  return deleted.count;
}
