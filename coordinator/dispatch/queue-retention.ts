// After a backup, merge or delete on a VM and remote, asks the planner what retention wants
// next there and queues that one action (merge or delete) — unless a retention task for that VM
// and remote is already waiting or running. One action at a time, re-planned after each, so a
// crash or a failed step simply resumes from the catalogue.
import type { Queryable, TaskRecord } from '../catalog/index.js';
import { getPolicy, listActiveTasksFor, NotFoundError, retentionView } from '../catalog/index.js';
import type { TaskLimits } from '../lifecycle/index.js';
import { nextRetentionAction, planRetention } from '../planner/index.js';
import type { Ids } from '../scheduler/index.js';
import { queueTask } from './queue-task.js';
import type { DeletePayload, MergePayload } from './task-payloads.js';

export interface RetentionTarget {
  vmUuid: string;
  remote: string;
  policyId: string;
  runId: string | null;
}

export async function queueRetention(db: Queryable, target: RetentionTarget, ids: Ids, limits: TaskLimits, now: Date): Promise<TaskRecord | undefined> {
  let retention: number;
  try {
    retention = (await getPolicy(db, target.policyId)).retention;
  } catch (error) {
    if (error instanceof NotFoundError) return undefined; // the policy is gone: keep everything
    throw error;
  }
  const active = await listActiveTasksFor(db, target.vmUuid, target.remote);
  if (active.some((t) => t.kind === 'merge' || t.kind === 'delete')) return undefined;
  const action = nextRetentionAction(planRetention(await retentionView(db, target.vmUuid, target.remote), retention));
  if (!action) return undefined;
  const payload: MergePayload | DeletePayload =
    action.type === 'merge' ? { backupId: action.backupId, retires: action.retires, policyId: target.policyId } : { backupId: action.backupId, policyId: target.policyId };
  return queueTask(
    db,
    {
      id: ids.uuid(),
      kind: action.type,
      addressKind: 'remote',
      address: target.remote,
      remoteName: target.remote,
      vmUuid: target.vmUuid,
      runId: target.runId,
      payload,
    },
    limits,
    now,
  );
}
