// The reference snapshots: per policy, VM and remote, the snapshot whose VDIs the next delta
// to that remote is exported against. Set after a backup commits, from the committed disks'
// footer uuids (which are the snapshot VDIs' uuids). A row mirrors a snapshot on the VM's pool:
// it goes only when the host agent destroyed that snapshot — replaced by the next backup to the
// same remote, or released (reference-releases.ts). A delta to another remote seeded from it
// leaves it in place: the host agent keeps each remote's reference under that remote's tag.
import type { ReferenceView } from '../planner/index.js';
import type { Queryable } from './connect-catalogue.js';

export interface ReferenceInput {
  policyId: string;
  vmUuid: string;
  remote: string;
  snapshotUuid: string;
  vdis: Record<string, string>;
  takenAt: Date;
}

export async function listReferences(db: Queryable, policyId: string, vmUuid: string): Promise<ReferenceView[]> {
  const rows = await db<{ remoteName: string; snapshotUuid: string; vdis: Record<string, string>; goneAt: Date | null }[]>`
    select remote_name, snapshot_uuid, vdis, gone_at from reference_snapshots
    where policy_id = ${policyId} and vm_uuid = ${vmUuid} order by remote_name`;
  return rows.map((r) => ({ remote: r.remoteName, snapshotUuid: r.snapshotUuid, vdis: r.vdis, gone: r.goneAt !== null }));
}

/** Sets the reference for a remote; a newer snapshot never gives way to an older one. */
export async function setReference(db: Queryable, ref: ReferenceInput, now: Date): Promise<void> {
  await db`
    insert into reference_snapshots (policy_id, vm_uuid, remote_name, snapshot_uuid, vdis, taken_at, updated_at)
    values (${ref.policyId}, ${ref.vmUuid}, ${ref.remote}, ${ref.snapshotUuid}, ${db.json(ref.vdis)}, ${ref.takenAt}, ${now})
    on conflict (policy_id, vm_uuid, remote_name) do update set
      snapshot_uuid = excluded.snapshot_uuid, vdis = excluded.vdis, taken_at = excluded.taken_at,
      gone_at = null, updated_at = excluded.updated_at
    where reference_snapshots.taken_at <= excluded.taken_at`;
}

export async function markReferenceGone(db: Queryable, policyId: string, vmUuid: string, remote: string, at: Date): Promise<void> {
  await db`
    update reference_snapshots set gone_at = coalesce(gone_at, ${at}), updated_at = ${at}
    where policy_id = ${policyId} and vm_uuid = ${vmUuid} and remote_name = ${remote}`;
}
