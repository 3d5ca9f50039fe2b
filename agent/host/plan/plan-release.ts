// Which snapshots a release of a policy's references destroys (plan only; the executor,
// release/release-references.ts, destroys them). A snapshot goes when it is tagged by us
// (snapshot-tags.ts) for that policy, for one of the VMs named (or any VM, when none is named),
// and its remote set is not kept: kept means every remote of its `deltachain:remotes` tag is among
// the remotes the policy still writes to — a reference for a remote set the coordinator no longer
// sends tasks for is the base of no future delta. Snapshots of other policies, the user's own
// and untagged ones are never touched.
import type { CleanupItem } from './plan-cleanup.js';
import type { SnapshotSummary } from './snapshot-summary.js';
import { readSnapshotTags } from './snapshot-tags.js';

export interface ReleaseScope {
  policyId: string;
  /** The VMs whose references go; undefined = every VM. Lowercase uuids. */
  vmUuids: ReadonlySet<string> | undefined;
  /** The remotes whose references stay. */
  keepRemotes: ReadonlySet<string>;
}

/** Whether a reference for this remote set (`remotesKey`) is still wanted: by one of its remotes at least. */
export function remotesKept(remotes: string, keep: ReadonlySet<string>): boolean {
  return remotes.split(',').some((id) => id !== '' && keep.has(id));
}

export function planRelease(snapshots: readonly SnapshotSummary[], scope: ReleaseScope): CleanupItem[] {
  const out: CleanupItem[] = [];
  for (const snapshot of snapshots) {
    const tags = readSnapshotTags(snapshot.otherConfig);
    if (tags === undefined || tags.policyId !== scope.policyId) continue;
    if (scope.vmUuids !== undefined && !scope.vmUuids.has(tags.vmUuid.toLowerCase())) continue;
    if (remotesKept(tags.remotes, scope.keepRemotes)) continue;
    const reason = scope.keepRemotes.size === 0
      ? `policy ${scope.policyId} no longer backs up VM ${tags.vmUuid}`
      : `kept for remotes "${tags.remotes}", which policy ${scope.policyId} no longer writes to`;
    out.push({ snapshot, reason });
  }
  return out;
}
