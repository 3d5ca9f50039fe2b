// Which snapshots of a VM an earlier, interrupted run left behind for this policy, and must go
// before a new one is taken (plan only; the executor destroys them):
//   * tagged but never exported, from another task: a run that failed or crashed before its
//     commit (its data reached no remote, so it can never be a base);
//   * untagged, but named by us for this policy and older than a grace period: a crash between
//     `VM.snapshot` and tagging;
//   * exported but older than the reference: a crash after the new reference was marked and
//     before the old one was destroyed.
// Snapshots of other policies or other remote sets (their own references), the user's own
// snapshots and the reference are never touched.
import { findReferenceSnapshot, taggedFor, type ReferenceScope } from './find-reference-snapshot.js';
import type { SnapshotSummary } from './snapshot-summary.js';
import { policyIdFromSnapshotName, readSnapshotTags } from './snapshot-tags.js';
import { parseXapiDate } from './xapi-date.js';

export interface CleanupItem {
  snapshot: SnapshotSummary;
  reason: string;
}

export interface CleanupOptions {
  /** A snapshot of this task is the current run's own (a redelivery): keep it. */
  currentTaskId?: string;
  now: Date;
  /** Untagged snapshots younger than this may be another run's, still being tagged (ms). */
  untaggedGraceMs: number;
}

export function planCleanup(snapshots: readonly SnapshotSummary[], scope: ReferenceScope, options: CleanupOptions): CleanupItem[] {
  const reference = findReferenceSnapshot(snapshots, scope);
  const out: CleanupItem[] = [];
  for (const { snapshot, tags } of taggedFor(snapshots, scope)) {
    if (tags.taskId === options.currentTaskId || snapshot.ref === reference?.snapshot.ref) continue;
    if (!tags.exported) {
      out.push({ snapshot, reason: `left by task ${tags.taskId}, which did not commit its backup` });
    } else {
      out.push({ snapshot, reason: `an older reference, superseded by ${reference?.snapshot.uuid ?? 'a newer one'}` });
    }
  }
  for (const snapshot of snapshots) {
    if (readSnapshotTags(snapshot.otherConfig) !== undefined) continue;
    if (policyIdFromSnapshotName(snapshot.nameLabel) !== scope.policyId) continue;
    const taken = parseXapiDate(snapshot.snapshotTime);
    if (taken !== undefined && options.now.getTime() - taken.getTime() < options.untaggedGraceMs) continue;
    out.push({ snapshot, reason: 'named by a run of this policy but never tagged (interrupted right after the snapshot)' });
  }
  return out;
}
