// The tasks table: one row per unit of work sent to an agent, with its lifecycle (see
// coordinator/lifecycle). Transitions are applied under a row lock (`withTaskLocked`) so the
// event consumer, the timeout sweep and an operator never interleave on one task.
import type { TaskLifecycle, TaskState } from '../lifecycle/index.js';
import type { Catalog, Queryable, Transaction } from './connect-catalog.js';
import { NotFoundError } from './catalog-errors.js';

export type TaskKind = 'backup' | 'merge' | 'delete' | 'scan' | 'restore' | 'verify';
export type AddressKind = 'pool' | 'remote';

export interface TaskRecord extends TaskLifecycle {
  id: string;
  runId: string | null;
  kind: TaskKind;
  addressKind: AddressKind;
  address: string;
  remoteName: string | null;
  vmUuid: string | null;
  /** The coordinator's description of the work (JSON); see coordinator/dispatch for each kind. */
  payload: Record<string, unknown>;
  createdAt: Date;
}

export interface TaskInsert {
  id: string;
  runId: string | null;
  kind: TaskKind;
  addressKind: AddressKind;
  address: string;
  remoteName: string | null;
  vmUuid: string | null;
  payload: Record<string, unknown>;
  maxAttempts: number;
  timeoutSeconds: number;
  notBefore: Date;
  createdAt: Date;
}

export async function insertTask(db: Queryable, task: TaskInsert): Promise<void> {
  await db`
    insert into tasks (id, run_id, kind, address_kind, address, remote_name, vm_uuid, payload, max_attempts,
                       timeout_seconds, not_before, created_at)
    values (${task.id}, ${task.runId}, ${task.kind}, ${task.addressKind}, ${task.address}, ${task.remoteName},
            ${task.vmUuid}, ${db.json(task.payload as never)}, ${task.maxAttempts}, ${task.timeoutSeconds},
            ${task.notBefore}, ${task.createdAt})`;
}

export async function getTask(db: Queryable, id: string): Promise<TaskRecord> {
  const [task] = await db<TaskRecord[]>`select * from tasks where id = ${id}`;
  if (!task) throw new NotFoundError(`no task with id ${id}`);
  return task;
}

export async function listTasksOfRun(db: Queryable, runId: string): Promise<TaskRecord[]> {
  return db<TaskRecord[]>`select * from tasks where run_id = ${runId} order by created_at, kind, vm_uuid, remote_name`;
}

/** Queued tasks whose retry time has come, oldest first. */
export async function listReadyTasks(db: Queryable, now: Date, limit = 500): Promise<TaskRecord[]> {
  return db<TaskRecord[]>`
    select * from tasks where state = 'queued' and not_before <= ${now} order by created_at limit ${limit}`;
}

/** Tasks an agent holds right now (dispatched or running). */
export async function listInFlightTasks(db: Queryable): Promise<TaskRecord[]> {
  return db<TaskRecord[]>`select * from tasks where state in ('dispatched', 'running') order by dispatched_at`;
}

/** In-flight tasks whose deadline has passed. */
export async function listOverdueTasks(db: Queryable, now: Date): Promise<TaskRecord[]> {
  return db<TaskRecord[]>`
    select * from tasks where state in ('dispatched', 'running') and deadline_at <= ${now} order by deadline_at`;
}

/** Active tasks (queued, dispatched, running) for one VM and remote. */
export async function listActiveTasksFor(db: Queryable, vmUuid: string, remote: string): Promise<TaskRecord[]> {
  return db<TaskRecord[]>`
    select * from tasks where vm_uuid = ${vmUuid} and remote_name = ${remote}
      and state in ('queued', 'dispatched', 'running') order by created_at`;
}

/** Runs `fn` with the task row locked; what it returns is saved when it returns a lifecycle. */
export async function withTaskLocked<T>(
  sql: Catalog,
  id: string,
  fn: (task: TaskRecord, tx: Transaction) => Promise<{ save?: TaskLifecycle; payload?: Record<string, unknown>; value: T }>,
): Promise<T> {
  return sql.begin(async (tx) => {
    const [task] = await tx<TaskRecord[]>`select * from tasks where id = ${id} for update`;
    if (!task) throw new NotFoundError(`no task with id ${id}`);
    const { save, payload, value } = await fn(task, tx);
    if (save) await saveLifecycle(tx, id, save);
    if (payload) await tx`update tasks set payload = ${tx.json(payload as never)} where id = ${id}`;
    return value;
  }) as Promise<T>;
}

async function saveLifecycle(db: Queryable, id: string, t: TaskLifecycle): Promise<void> {
  const result = t.result === undefined || t.result === null ? null : db.json(t.result as never);
  await db`
    update tasks set state = ${t.state satisfies TaskState}, attempt = ${t.attempt}, not_before = ${t.notBefore},
      deadline_at = ${t.deadlineAt}, dispatched_at = ${t.dispatchedAt}, started_at = ${t.startedAt},
      finished_at = ${t.finishedAt}, last_event_at = ${t.lastEventAt}, progress_done = ${t.progressDone},
      progress_total = ${t.progressTotal}, error_code = ${t.errorCode}, error_message = ${t.errorMessage},
      result = ${result}
    where id = ${id}`;
}
