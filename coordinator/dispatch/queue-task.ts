// Queues one task outside a run (scan, verify, restore, retention): a row in `tasks` that the
// dispatcher sends when its turn comes. Limits come from the coordinator's task limits.
import type { AddressKind, Queryable, TaskKind, TaskRecord } from '../catalogue/index.js';
import { getTask, insertTask } from '../catalogue/index.js';
import type { TaskLimits } from '../lifecycle/index.js';

export interface QueueTaskRequest {
  id: string;
  kind: TaskKind;
  addressKind: AddressKind;
  address: string;
  remoteName: string | null;
  vmUuid: string | null;
  runId?: string | null;
  payload: object;
}

export async function queueTask(db: Queryable, request: QueueTaskRequest, limits: TaskLimits, now: Date): Promise<TaskRecord> {
  const limit = limits[request.kind];
  await insertTask(db, {
    id: request.id,
    runId: request.runId ?? null,
    kind: request.kind,
    addressKind: request.addressKind,
    address: request.address,
    remoteName: request.remoteName,
    vmUuid: request.vmUuid,
    payload: { ...request.payload },
    maxAttempts: limit.maxAttempts,
    timeoutSeconds: limit.timeoutSeconds,
    notBefore: now,
    createdAt: now,
  });
  return getTask(db, request.id);
}
