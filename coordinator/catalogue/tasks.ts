// The tasks table: one row per unit of work sent to an agent, with its lifecycle (see
// coordinator/lifecycle). Transitions are applied under a row lock (`withTaskLocked`) so the
// event consumer, the timeout sweep and an operator never interleave on one task.
import type { TaskLifecycle, TaskState } from '../lifecycle/index.js';
import type { Catalogue, Queryable, Transaction } from './connect-catalogue.js';
import { NotFoundError } from './catalogue-errors.js';
import type { AddressKind, KindAndPayload, TaskKind, TaskPayload } from '../tasks/index.js';

export type { AddressKind, TaskKind };

/** Where a task goes and what it belongs to; `kind` and `payload` (coordinator/tasks) come with it. */
interface TaskAddressing {
  id: string;
  runId: string | null;
  addressKind: AddressKind;
  address: string;
  remoteName: string | null;
  vmUuid: string | null;
  createdAt: Date;
}

/** `dispatchTerm`: the coordinator lease's term the current attempt was dispatched under (null before). */
export type TaskRecord = TaskLifecycle & TaskAddressing & KindAndPayload & { dispatchTerm?: number | null };

export type TaskInsert = TaskAddressing & KindAndPayload & { maxAttempts: number; timeoutSeconds: number; notBefore: Date };

/** Pick for each kind of task: `kind` still tells `payload`'s type. */
export type TaskPick<K extends keyof TaskRecord> = TaskRecord extends infer T ? (T extends TaskRecord ? Pick<T, K> : never) : never;

/** A task of one kind. */
export type TaskOf<K extends TaskKind> = Extract<TaskRecord, { kind: K }>;

export type { TaskPayload };

export async function insertTask(db: Queryable, task: TaskInsert): Promise<void> {
  await db`
    insert into tasks (id, run_id, kind, address_kind, address, remote_name, vm_uuid, payload, max_attempts,
                       timeout_seconds, not_before, created_at)
    values (${task.id}, ${task.runId}, ${task.kind}, ${task.addressKind}, ${task.address}, ${task.remoteName},
            ${task.vmUuid}, ${db.json(task.payload as never)}, ${task.maxAttempts}, ${task.timeoutSeconds},
            ${task.notBefore}, ${task.createdAt})`;
}

/**
 * Inserts many tasks in a few statements (a nightly run of thousands of VMs: one statement per
 * row made recording the run take seconds). Rows go as one JSON array per chunk.
 */
export async function insertTasks(db: Queryable, tasks: readonly TaskInsert[], chunk = 1000): Promise<void> {
  for (let i = 0; i < tasks.length; i += chunk) {
    const rows = tasks.slice(i, i + chunk).map((t) => ({
      id: t.id, run_id: t.runId, kind: t.kind, address_kind: t.addressKind, address: t.address, remote_name: t.remoteName,
      vm_uuid: t.vmUuid, payload: t.payload, max_attempts: t.maxAttempts, timeout_seconds: t.timeoutSeconds,
      not_before: t.notBefore.toISOString(), created_at: t.createdAt.toISOString(),
    }));
    await db`
      insert into tasks (id, run_id, kind, address_kind, address, remote_name, vm_uuid, payload, max_attempts,
                         timeout_seconds, not_before, created_at)
      select id, run_id, kind, address_kind, address, remote_name, vm_uuid, payload, max_attempts,
             timeout_seconds, not_before, created_at
      from jsonb_to_recordset(${db.json(rows as never)}) as r(id uuid, run_id uuid, kind text, address_kind text,
        address text, remote_name text, vm_uuid uuid, payload jsonb, max_attempts integer, timeout_seconds integer,
        not_before timestamptz, created_at timestamptz)`;
  }
}

export async function getTask(db: Queryable, id: string): Promise<TaskRecord> {
  const [task] = await db<TaskRecord[]>`select * from tasks where id = ${id}`;
  if (!task) throw new NotFoundError(`no task with id ${id}`);
  return task;
}

export async function getTasks(db: Queryable, ids: readonly string[]): Promise<TaskRecord[]> {
  return db<TaskRecord[]>`select * from tasks where id = any(${ids as string[]}::uuid[])`;
}

/** Whom each of the tasks named is addressed to (those that exist). */
export async function taskAddresses(db: Queryable, ids: readonly string[]): Promise<Pick<TaskRecord, 'id' | 'addressKind' | 'address'>[]> {
  return db<Pick<TaskRecord, 'id' | 'addressKind' | 'address'>[]>`select id, address_kind, address from tasks where id = any(${ids as string[]}::uuid[])`;
}

export async function listTasksOfRun(db: Queryable, runId: string): Promise<TaskRecord[]> {
  return db<TaskRecord[]>`select * from tasks where run_id = ${runId} order by created_at, kind, vm_uuid, remote_name`;
}

/**
 * Whether a run still has active tasks (queued, dispatched, running) and whether any task has
 * left the queue: two index probes (migration 0003), however many tasks the run has.
 */
export async function runActivity(db: Queryable, runId: string): Promise<{ active: boolean; started: boolean }> {
  const [row] = await db<{ active: boolean; started: boolean }[]>`
    select exists (select 1 from tasks where run_id = ${runId} and state in ('queued', 'dispatched', 'running')) as active,
           exists (select 1 from tasks where run_id = ${runId} and state <> 'queued') as started`;
  return row!;
}

/** The run's saved state beside its tasks' activity (runActivity), in one statement, unlocked. */
export async function runStateAndActivity(db: Queryable, runId: string): Promise<{ state: string; open: boolean; active: boolean; started: boolean } | undefined> {
  const [row] = await db<{ state: string; open: boolean; active: boolean; started: boolean }[]>`
    select r.state, r.finished_at is null as open,
           exists (select 1 from tasks where run_id = r.id and state in ('queued', 'dispatched', 'running')) as active,
           exists (select 1 from tasks where run_id = r.id and state <> 'queued') as started
    from runs r where r.id = ${runId}`;
  return row;
}

/** How many tasks of a run are in each state. */
export async function countTasksOfRun(db: Queryable, runId: string): Promise<Partial<Record<TaskState, number>>> {
  const rows = await db<{ state: TaskState; n: number }[]>`select state, count(*)::int as n from tasks where run_id = ${runId} group by state`;
  return Object.fromEntries(rows.map((r) => [r.state, r.n]));
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

/**
 * What the dispatch choice needs of the in-flight tasks (select-dispatch.ts): their chain, scan
 * and policy keys, without the payloads and results of thousands of rows.
 */
export async function listInFlightKeys(db: Queryable): Promise<TaskPick<'id' | 'kind' | 'address' | 'remoteName' | 'vmUuid' | 'payload' | 'createdAt'>[]> {
  return db<TaskPick<'id' | 'kind' | 'address' | 'remoteName' | 'vmUuid' | 'payload' | 'createdAt'>[]>`
    select id, kind, address, remote_name, vm_uuid, created_at,
           case when payload ? 'policyId' then jsonb_build_object('policyId', payload->'policyId') else '{}'::jsonb end as payload
    from tasks where state in ('dispatched', 'running')`;
}

type InFlightKey = TaskPick<'id' | 'kind' | 'address' | 'remoteName' | 'vmUuid' | 'payload' | 'createdAt' | 'runId'>;

/**
 * What the dispatch choice needs of the in-flight tasks for a page of ready ones, without reading
 * every in-flight row (thousands during a night): the in-flight tasks on the same VM and remote
 * as a ready one, every in-flight scan (payloads left out) and release (its policy id only), and
 * the in-flight backups counted per `policyId/address`.
 */
export async function inFlightFor(db: Queryable, ready: readonly Pick<TaskRecord, 'vmUuid' | 'remoteName'>[]): Promise<{ keys: InFlightKey[]; running: Map<string, number> }> {
  const pairs = ready.filter((t) => t.vmUuid !== null && t.remoteName !== null);
  const [keys, counts] = await Promise.all([
    db<InFlightKey[]>`
      select t.id, t.kind, t.address, t.remote_name, t.vm_uuid, t.created_at, t.run_id,
             case when t.kind = 'release' then jsonb_build_object('policyId', t.payload->'policyId') else '{}'::jsonb end as payload
      from tasks t
      where t.state in ('dispatched', 'running')
        and (t.kind in ('scan', 'release') or (t.vm_uuid, t.remote_name) in (
          select * from unnest(${pairs.map((t) => t.vmUuid!)}::uuid[], ${pairs.map((t) => t.remoteName!)}::text[])))`,
    db<{ policyId: string; address: string; n: number }[]>`
      select payload->>'policyId' as policy_id, address, count(distinct (coalesce(run_id::text, id::text), vm_uuid))::int as n
      from tasks where state in ('dispatched', 'running') and kind = 'backup' and jsonb_typeof(payload->'policyId') = 'string'
      group by 1, 2`,
  ]);
  return { keys, running: new Map(counts.map((c) => [`${c.policyId}/${c.address}`, c.n])) };
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

/**
 * Runs `fn` with the task row locked; what it returns is saved when it returns a lifecycle, and
 * then `afterSave` runs in the same transaction (work that must see the task's new state).
 */
export async function withTaskLocked<T>(
  sql: Catalogue,
  id: string,
  fn: (task: TaskRecord, tx: Transaction) => Promise<{ save?: TaskLifecycle; payload?: TaskPayload; value: T; afterSave?: () => Promise<void> }>,
): Promise<T> {
  return sql.begin(async (tx) => {
    const [task] = await tx<TaskRecord[]>`select * from tasks where id = ${id} for update`;
    if (!task) throw new NotFoundError(`no task with id ${id}`);
    const { save, payload, value, afterSave } = await fn(task, tx);
    if (save) await saveLifecycle(tx, id, save);
    if (payload) await tx`update tasks set payload = ${tx.json(payload as never)} where id = ${id}`;
    await afterSave?.();
    return value;
  }) as Promise<T>;
}

async function saveLifecycle(db: Queryable, id: string, t: TaskLifecycle): Promise<void> {
  const result = t.result === undefined || t.result === null ? null : db.json(t.result as never);
  await db`
    update tasks set state = ${t.state satisfies TaskState}, attempt = ${t.attempt}, max_attempts = ${t.maxAttempts}, not_before = ${t.notBefore},
      deadline_at = ${t.deadlineAt}, dispatched_at = ${t.dispatchedAt}, started_at = ${t.startedAt},
      finished_at = ${t.finishedAt}, last_event_at = ${t.lastEventAt}, progress_done = ${t.progressDone},
      progress_total = ${t.progressTotal}, error_code = ${t.errorCode}, error_message = ${t.errorMessage},
      error_side = ${t.errorSide ?? null}, result = ${result}
    where id = ${id}`;
}
