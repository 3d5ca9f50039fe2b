// What the catalogue queues after tasks succeeded: the next retention action (merge or delete)
// on each VM and remote a backup, copy, merge or delete touched (queue-retention.ts), and the next
// copy of each mirror whose source took a backup or a copy (dispatch/queue-mirror.ts) — a copy's
// success also queues the same mirror's next copy of that VM, so a mirror behind catches up.
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
import { mirrorsById, mirrorsFrom } from '../catalogue/mirrors.js';
import { queueMirrorCopies, type MirrorCopyWanted } from '../dispatch/queue-mirror.js';
import { queueRetentions, type RetentionTarget } from './queue-retention.js';

function retentionTarget(task: TaskRecord): RetentionTarget | undefined {
  if (!task.vmUuid || !task.remoteName) return undefined;
  const where = { vmUuid: task.vmUuid, remote: task.remoteName, runId: task.runId };
  if (task.kind === 'mirror') return { ...where, policyId: null, mirrorId: task.payload.mirrorId };
  if (task.kind !== 'backup' && task.kind !== 'merge' && task.kind !== 'delete') return undefined;
  const mirrorId = task.kind === 'backup' ? undefined : task.payload.mirrorId;
  if (mirrorId) return { ...where, policyId: null, mirrorId };
  const { policyId } = task.payload;
  return policyId ? { ...where, policyId } : undefined;
}

/** The copies a success calls for: every mirror from the remote that took a backup or a copy, and a copy's own mirror again. */
async function mirrorCopiesAfter(tx: Transaction, succeeded: readonly TaskRecord[]): Promise<MirrorCopyWanted[]> {
  const landed = succeeded.filter((t) => (t.kind === 'backup' || t.kind === 'mirror') && t.vmUuid && t.remoteName);
  if (landed.length === 0) return [];
  const from = await mirrorsFrom(tx, [...new Set(landed.map((t) => t.remoteName!))]);
  const own = await mirrorsById(tx, landed.flatMap((t) => (t.kind === 'mirror' ? [t.payload.mirrorId] : [])));
  return landed.flatMap((task) => {
    const mirrors = [...from.filter((m) => m.sourceRemote === task.remoteName), ...(task.kind === 'mirror' && own.has(task.payload.mirrorId) ? [own.get(task.payload.mirrorId)!] : [])];
    return mirrors.map((mirror) => ({ mirror, vmUuid: task.vmUuid!, runId: task.runId }));
  });
}

/** Queues the follow-ups of tasks that just succeeded (rows already saved); returns the tasks queued. */
export async function queueFollowUps(tx: Transaction, succeeded: readonly TaskRecord[], ids: Ids, limits: TaskLimits, now: Date): Promise<TaskRecord[]> {
  const targets = new Map<string, RetentionTarget>();
  for (const task of succeeded) {
    const target = retentionTarget(task);
    if (target) targets.set(`${target.vmUuid}@${target.remote}`, target);
  }
  const copies = await mirrorCopiesAfter(tx, succeeded);
  if (targets.size === 0 && copies.length === 0) return [];
  const open = await lockOpenRuns(tx, [...new Set([...targets.values(), ...copies].flatMap((t) => (t.runId ? [t.runId] : [])))]);
  const attach = <T extends { runId: string | null }>(t: T): T => ({ ...t, runId: t.runId && open.has(t.runId) ? t.runId : null });
  const retentions = await queueRetentions(tx, [...targets.values()].map(attach), ids, limits, now);
  return [...retentions, ...(await queueMirrorCopies(tx, copies.map(attach), ids, limits, now))];
}
