// The reference snapshot of a policy, VM and remote set: the newest snapshot tagged for them whose backup was
// committed (`exported`). Only such a snapshot may be the base of a delta: an unexported one may
// hold data no remote has. Newest by the `datetime` tag (ISO-8601 sorts as text), then by XAPI's
// snapshot time, then uuid, so the choice is deterministic.
import type { SnapshotSummary } from './snapshot-summary.js';
import { readSnapshotTags, type SnapshotTags } from './snapshot-tags.js';

export interface ReferenceScope {
  policyId: string;
  vmUuid: string;
  /** The remote set (`remotesKey`). */
  remotes: string;
}

export interface TaggedSnapshot {
  snapshot: SnapshotSummary;
  tags: SnapshotTags;
}

export function taggedFor(snapshots: readonly SnapshotSummary[], scope: ReferenceScope): TaggedSnapshot[] {
  const out: TaggedSnapshot[] = [];
  for (const snapshot of snapshots) {
    const tags = readSnapshotTags(snapshot.otherConfig);
    if (tags !== undefined && tags.policyId === scope.policyId && tags.vmUuid === scope.vmUuid && tags.remotes === scope.remotes) out.push({ snapshot, tags });
  }
  return out;
}

/** Every snapshot tagged for this policy and VM, whatever its remote set. */
export function taggedForVm(snapshots: readonly SnapshotSummary[], policyId: string, vmUuid: string): TaggedSnapshot[] {
  const out: TaggedSnapshot[] = [];
  for (const snapshot of snapshots) {
    const tags = readSnapshotTags(snapshot.otherConfig);
    if (tags !== undefined && tags.policyId === policyId && tags.vmUuid === vmUuid) out.push({ snapshot, tags });
  }
  return out;
}

export function newestFirst(a: TaggedSnapshot, b: TaggedSnapshot): number {
  return (
    compareText(b.tags.datetime, a.tags.datetime) ||
    compareText(b.snapshot.snapshotTime, a.snapshot.snapshotTime) ||
    compareText(b.snapshot.uuid, a.snapshot.uuid)
  );
}

export function findReferenceSnapshot(snapshots: readonly SnapshotSummary[], scope: ReferenceScope): TaggedSnapshot | undefined {
  const exported = taggedFor(snapshots, scope).filter((tagged) => tagged.tags.exported);
  exported.sort(newestFirst);
  return exported[0];
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
