// What the catalogue queues after tasks succeeded: the next retention action (merge or delete)
// on each VM and remote a backup, merge or delete touched (queue-retention.ts).
//
// It runs inside the transaction that marks the tasks succeeded, after their rows are written:
// a run's state is derived from its tasks, so if the follow-ups were queued after that commit,
// a refresh in between (this handler's, the dispatcher's, another event's) would see no active
// task and finish the run, and `run watch` would report it succeeded before its merges started.
// In one transaction, every reader sees either the task still active or its merge queued.
//
// A follow-up belongs to its task's run while that run is open. A success that comes after the
// run finished (a task given up, then reported done by a late attempt) queues its follow-up
// outside any run: reopening a finished run could make a policy's runs overlap. The open runs
// are read `for share`, so a concurrent refresh (`for update`) cannot finish one meanwhile.
import { lockOpenRuns, type TaskRecord, type Transaction } from '../catalogue/index.js';
import type { TaskLimits } from '../lifecycle/index.js';
import type { Ids } from '../tasks/index.js';
import { queueRetentions, type RetentionTarget } from './queue-retention.js';

function retentionTarget(task: TaskRecord): RetentionTarget | undefined {
  if (task.kind !== 'backup' && task.kind !== 'merge' && task.kind !== 'delete') return undefined;
  const { policyId } = task.payload;
  if (!policyId || !task.vmUuid || !task.remoteName) return undefined;
  return { vmUuid: task.vmUuid, remote: task.remoteName, policyId, runId: task.runId };
}

/** Queues the follow-ups of tasks that just succeeded (rows already saved); returns the tasks queued. */
export async function queueFollowUps(tx: Transaction, succeeded: readonly TaskRecord[], ids: Ids, limits: TaskLimits, now: Date): Promise<TaskRecord[]> {
  const targets = new Map<string, RetentionTarget>();
  for (const task of succeeded) {
    const target = retentionTarget(task);
    if (target) targets.set(`${target.vmUuid}@${target.remote}`, target);
  }
  if (targets.size === 0) return [];
  const open = await lockOpenRuns(tx, [...new Set([...targets.values()].flatMap((t) => (t.runId ? [t.runId] : [])))]);
  const attached = [...targets.values()].map((t) => ({ ...t, runId: t.runId && open.has(t.runId) ? t.runId : null }));
  return queueRetentions(tx, attached, ids, limits, now);
}
