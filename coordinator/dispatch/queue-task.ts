// Queues one task outside a run (scan, verify, restore, retention): a row in `tasks` that the
// dispatcher sends when its turn comes. Limits come from the coordinator's task limits.
import type { AddressKind, Queryable, TaskRecord } from '../catalogue/index.js';
import type { KindAndPayload } from '../tasks/index.js';
import { getTask, insertTask } from '../catalogue/index.js';
import type { TaskLimits } from '../lifecycle/index.js';

export type QueueTaskRequest = KindAndPayload & {
  id: string;
  addressKind: AddressKind;
  address: string;
  remoteName: string | null;
  vmUuid: string | null;
  runId?: string | null;
};

export async function queueTask(db: Queryable, request: QueueTaskRequest, limits: TaskLimits, now: Date): Promise<TaskRecord> {
  const limit = limits[request.kind];
  const { runId, ...task } = request;
  await insertTask(db, {
    ...task,
    runId: runId ?? null,
    maxAttempts: limit.maxAttempts,
    timeoutSeconds: limit.timeoutSeconds,
    notBefore: now,
    createdAt: now,
  });
  return getTask(db, request.id);
}
