// After a backup, merge or delete on a VM and remote, asks the planner what retention wants
// next there and queues that one action (merge or delete) — unless a retention task for that VM
// and remote is already waiting or running. One action at a time, re-planned after each, so a
// crash or a failed step simply resumes from the catalogue. A batch of results is planned
// together: each policy read once, and the catalogue's views of every VM and remote of the batch
// read in two statements (one result is a batch of one).
import type { Queryable, TaskRecord } from '../catalogue/index.js';
import { chainKey, getPolicy, NotFoundError, pairsWithActiveRetention, retentionViewsOf } from '../catalogue/index.js';
import { mirrorsById } from '../catalogue/mirrors.js';
import type { RetentionBackup } from '../planner/index.js';
import type { TaskLimits } from '../lifecycle/index.js';
import { nextRetentionAction, planRetention } from '../planner/index.js';
import type { Ids } from '../tasks/index.js';
import { queueTask } from '../dispatch/queue-task.js';
import type { KindAndPayload } from '../tasks/index.js';

/** A VM on a remote, and whose retention applies there: a policy's, or a mirror's on its target. */
export interface RetentionTarget {
  vmUuid: string;
  remote: string;
  policyId: string | null;
  mirrorId?: string;
  runId: string | null;
}

const retentionOwner = (t: RetentionTarget): string => (t.mirrorId ? `mirror/${t.mirrorId}` : `policy/${t.policyId}`);

/** Queues the next retention action of each VM and remote (one target each); returns the tasks queued. */
export async function queueRetentions(db: Queryable, targets: readonly RetentionTarget[], ids: Ids, limits: TaskLimits, now: Date): Promise<TaskRecord[]> {
  const retentions = await retentionsOf(db, targets);
  const kept = targets.filter((t) => retentions.has(retentionOwner(t)));
  const [busy, views] = await Promise.all([pairsWithActiveRetention(db, kept), retentionViewsOf(db, kept)]);
  const queued: TaskRecord[] = [];
  for (const target of kept) {
    const key = chainKey(target.vmUuid, target.remote);
    if (busy.has(key)) continue;
    const task = await queueAction(db, target, retentions.get(retentionOwner(target))!, views.get(key) ?? [], ids, limits, now);
    if (task) queued.push(task);
  }
  return queued;
}

/** Each target's retention by its owner (a policy or mirror that is gone keeps everything: absent). */
async function retentionsOf(db: Queryable, targets: readonly RetentionTarget[]): Promise<Map<string, number>> {
  const retentions = new Map<string, number>();
  const mirrors = await mirrorsById(db, [...new Set(targets.flatMap((t) => (t.mirrorId ? [t.mirrorId] : [])))]);
  for (const mirror of mirrors.values()) retentions.set(`mirror/${mirror.id}`, mirror.retention);
  for (const policyId of new Set(targets.flatMap((t) => (t.mirrorId || !t.policyId ? [] : [t.policyId])))) {
    try {
      retentions.set(`policy/${policyId}`, (await getPolicy(db, policyId)).retention);
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
    }
  }
  return retentions;
}

async function queueAction(db: Queryable, target: RetentionTarget, retention: number, view: RetentionBackup[], ids: Ids, limits: TaskLimits, now: Date): Promise<TaskRecord | undefined> {
  const action = nextRetentionAction(planRetention(view, retention));
  if (!action) return undefined;
  const owner = { policyId: target.policyId, ...(target.mirrorId ? { mirrorId: target.mirrorId } : {}) };
  const work: KindAndPayload =
    action.type === 'merge'
      ? { kind: 'merge', payload: { backupId: action.backupId, retires: action.retires, ...owner } }
      : { kind: 'delete', payload: { backupId: action.backupId, ...owner } };
  const where = { addressKind: 'remote' as const, address: target.remote, remoteName: target.remote, vmUuid: target.vmUuid, runId: target.runId };
  return queueTask(db, { id: ids.uuid(), ...where, ...work }, limits, now);
}
