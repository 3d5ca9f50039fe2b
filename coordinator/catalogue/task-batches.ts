// Tasks by the hundred: the dispatcher prepares, and the event handler applies results to, up
// to a few hundred tasks in one transaction (a night of 10k VMs done one task per transaction
// spent most of its time in round trips). Rows are locked together in id order (two
// transactions locking overlapping sets never deadlock), and their lifecycles (and, at dispatch,
// payloads) are written back in one statement.
import type { TaskLifecycle, TaskState } from '../lifecycle/index.js';
import type { Queryable } from './connect-catalogue.js';
import type { TaskPayload, TaskRecord } from './tasks.js';

/**
 * Locks the tasks named (those that exist) and returns them. `skipLocked`: rows another
 * transaction holds are left out instead of waited for (the dispatcher takes them next round).
 */
export async function lockTasks(db: Queryable, ids: readonly string[], options: { skipLocked?: boolean; state?: TaskState } = {}): Promise<TaskRecord[]> {
  if (ids.length === 0) return [];
  const state = options.state ?? null;
  if (options.skipLocked) {
    return db<TaskRecord[]>`
      select * from tasks where id = any(${ids as string[]}::uuid[]) and (${state}::text is null or state = ${state})
      order by id for update skip locked`;
  }
  return db<TaskRecord[]>`
    select * from tasks where id = any(${ids as string[]}::uuid[]) and (${state}::text is null or state = ${state})
    order by id for update`;
}

export interface TaskSave {
  id: string;
  lifecycle: TaskLifecycle;
  /** A new payload (dispatch); absent = unchanged. */
  payload?: TaskPayload;
  /** The lease term the attempt is dispatched under (dispatch); absent = unchanged. */
  term?: number;
}

const iso = (d: Date | null) => (d === null ? null : d.toISOString());

/** Writes many tasks' lifecycles (and payloads) in one statement; rows must be locked by the caller. */
export async function saveTasks(db: Queryable, saves: readonly TaskSave[]): Promise<void> {
  if (saves.length === 0) return;
  const rows = saves.map(({ id, lifecycle: t, payload, term }) => ({
    id, state: t.state, attempt: t.attempt, max_attempts: t.maxAttempts, dispatch_term: term ?? null, not_before: iso(t.notBefore), deadline_at: iso(t.deadlineAt),
    dispatched_at: iso(t.dispatchedAt), started_at: iso(t.startedAt), finished_at: iso(t.finishedAt),
    last_event_at: iso(t.lastEventAt), progress_done: t.progressDone, progress_total: t.progressTotal,
    error_code: t.errorCode, error_message: t.errorMessage, error_side: t.errorSide ?? null, result: t.result ?? null, payload: payload ?? null,
  }));
  await db`
    update tasks t set state = r.state, attempt = r.attempt, max_attempts = r.max_attempts,
      dispatch_term = coalesce(r.dispatch_term, t.dispatch_term), not_before = r.not_before, deadline_at = r.deadline_at,
      dispatched_at = r.dispatched_at, started_at = r.started_at, finished_at = r.finished_at,
      last_event_at = r.last_event_at, progress_done = r.progress_done, progress_total = r.progress_total,
      error_code = r.error_code, error_message = r.error_message, error_side = r.error_side, result = r.result,
      payload = coalesce(r.payload, t.payload)
    from jsonb_to_recordset(${db.json(rows as never)}) as r(id uuid, state text, attempt integer, max_attempts integer, dispatch_term bigint,
      not_before timestamptz, deadline_at timestamptz, dispatched_at timestamptz, started_at timestamptz,
      finished_at timestamptz, last_event_at timestamptz, progress_done bigint, progress_total bigint,
      error_code text, error_message text, error_side text, result jsonb, payload jsonb)
    where t.id = r.id`;
}
