// Which `cbt_metadata` VDIs of a policy are orphans to destroy (plan only; the executors are the
// backup's cleanup and the release of references). A purged reference (VDI.data_destroy) keeps a
// `cbt_metadata` VDI tagged `deltachain:policy` and `deltachain:vdi`; `VM.destroy` of its snapshot
// leaves the VDI behind (XAPI keeps disks), so a crash between destroying the snapshot VM and its
// VDIs, or an admin deleting the snapshot VM alone, leaves one. A VDI is an orphan when:
//   * it is a snapshot VDI of type `cbt_metadata`, tagged for the policy;
//   * its disk key is one of the disks in scope (all, when no disk is named);
//   * it is no VDI of a snapshot we read and no VM holds it (no VBD);
//   * it is not a base still asked for (the coordinator names a reference by its VDI uuid, and a
//     bare `cbt_metadata` VDI still serves CBT: destroying it would make that delta a full).
// Other policies' VDIs, VDIs with data, and VDIs of a snapshot are never touched.
import type { XapiRef } from '../xapi/xapi-records.js';
import type { SnapshotSummary } from './snapshot-summary.js';

/** A snapshot VDI as the planner sees it (built from `VDI.get_all_records`). */
export interface MetadataVdiSummary {
  ref: XapiRef;
  uuid: string;
  type: string;
  isSnapshot: boolean;
  /** The `deltachain:policy` tag. */
  policyId: string | undefined;
  /** The `deltachain:vdi` tag: the source disk's uuid. */
  diskKey: string | undefined;
  /** How many VBDs link it to a VM (snapshot or not). */
  vbdCount: number;
}

export interface OrphanScope {
  policyId: string;
  /** The disks whose orphans go; undefined = every disk. */
  diskKeys: ReadonlySet<string> | undefined;
  /** VDI uuids still wanted as delta bases. */
  keepUuids: ReadonlySet<string>;
}

export interface OrphanItem {
  vdi: MetadataVdiSummary;
  reason: string;
}

export function planOrphanMetadata(vdis: readonly MetadataVdiSummary[], snapshots: readonly SnapshotSummary[], scope: OrphanScope): OrphanItem[] {
  const inSnapshots = new Set(snapshots.flatMap((s) => s.vdis.map((v) => v.ref)));
  const out: OrphanItem[] = [];
  for (const vdi of vdis) {
    if (!vdi.isSnapshot || vdi.type !== 'cbt_metadata' || vdi.policyId !== scope.policyId) continue;
    if (vdi.diskKey === undefined || (scope.diskKeys !== undefined && !scope.diskKeys.has(vdi.diskKey))) continue;
    if (inSnapshots.has(vdi.ref) || vdi.vbdCount > 0 || scope.keepUuids.has(vdi.uuid)) continue;
    out.push({ vdi, reason: `CBT metadata of disk ${vdi.diskKey} whose snapshot is gone` });
  }
  return out;
}
