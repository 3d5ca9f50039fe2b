// Which ready tasks to send now — a pure choice over the queue and what agents hold:
//   * at most one task at a time per VM and remote: a chain is appended to, merged or read by
//     one task at once (a backup and a merge on one chain never race);
//   * backup tasks of one policy count against its concurrency per pool (VMs at once); the backup
//     tasks of one run for one VM (one per remote) go together — chosen with the first of them that
//     may go (each still one at a time on its own chain), and counted once: one export for them all;
//   * a scan of a remote waits for nothing but is itself one at a time per remote;
//   * a release of a policy's references on a pool waits while backups of that policy on that
//     pool are queued or in flight (it must not destroy the base of a delta being exported, and
//     goes after the run's backups it belongs to), one at a time per policy and pool; while it is
//     in flight, that policy's backups on that pool wait.
// Oldest first; a task held back stays queued for the next round.
import type { TaskPick } from '../catalogue/index.js';
import { policyIdOf } from '../tasks/index.js';

export interface DispatchLimits {
  /** The concurrency of a policy (VMs per pool at once); undefined = the policy is gone. */
  concurrencyOf(policyId: string): number | undefined;
  /** `policyId@pool` of the ready releases' policies and pools with backups queued or in flight. */
  backupsActive?: ReadonlySet<string>;
}

type Candidate = TaskPick<'id' | 'kind' | 'address' | 'remoteName' | 'vmUuid' | 'payload' | 'createdAt'>;
type ReadyCandidate = Candidate & { runId?: string | null };

/** The backup tasks of one run for one VM on one pool go out as one message (one export). */
export const backupGroupOf = (t: Candidate & { runId?: string | null }): string | undefined =>
  t.kind === 'backup' && t.runId && t.vmUuid ? `${t.runId}/${t.vmUuid}@${t.address}` : undefined;

const chainKey = (t: Candidate) => (t.vmUuid !== null && t.remoteName !== null ? `${t.vmUuid}@${t.remoteName}` : undefined);
const scanKey = (t: Candidate) => (t.kind === 'scan' ? `scan@${t.address}` : undefined);
const policyOf = (t: Candidate) => (t.kind === 'backup' ? policyIdOf(t.payload) : undefined);
const policyPool = (t: Candidate) => ((t.kind === 'backup' || t.kind === 'release') && policyIdOf(t.payload) !== undefined ? `${policyIdOf(t.payload)}@${t.address}` : undefined);
const releaseKey = (t: Candidate) => (t.kind === 'release' ? `release:${policyPool(t)}` : undefined);

/**
 * `running`: backups already in flight per `policyId/address` (a run's tasks for one VM count
 * once), for callers that count them in the catalogue rather than pass every in-flight task
 * (those passed count on top).
 */
export function selectDispatch<T extends ReadyCandidate>(ready: readonly T[], inFlight: readonly ReadyCandidate[], limits: DispatchLimits, running = new Map<string, number>()): T[] {
  const busy = new Set<string>();
  running = new Map(running);
  const groups = new Set<string>();
  const hold = (t: Candidate, counted = true) => {
    for (const key of [chainKey(t), scanKey(t), releaseKey(t)]) if (key) busy.add(key);
    const policy = policyOf(t);
    if (policy && counted) running.set(`${policy}/${t.address}`, (running.get(`${policy}/${t.address}`) ?? 0) + 1);
  };
  const flying = new Set<string>();
  for (const t of inFlight) {
    const group = backupGroupOf(t);
    hold(t, group === undefined || !flying.has(group));
    if (group !== undefined) flying.add(group);
  }
  const chosen: T[] = [];
  for (const task of [...ready].sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime())) {
    if ([chainKey(task), scanKey(task), releaseKey(task)].some((key) => key !== undefined && busy.has(key))) continue;
    if (task.kind === 'backup' && busy.has(`release:${policyPool(task)}`)) continue;
    if (task.kind === 'release' && (limits.backupsActive?.has(policyPool(task)!) || (running.get(`${policyIdOf(task.payload)}/${task.address}`) ?? 0) > 0)) continue;
    const group = backupGroupOf(task);
    const joins = group !== undefined && groups.has(group);
    const policy = policyOf(task);
    if (policy && !joins) {
      const limit = limits.concurrencyOf(policy) ?? 1;
      if ((running.get(`${policy}/${task.address}`) ?? 0) >= limit) continue;
    }
    chosen.push(task);
    hold(task, !joins);
    if (group !== undefined) groups.add(group);
  }
  return chosen;
}
