// The runs table: one row per policy firing (or manual run). Recording is idempotent through the
// unique (policy_id, scheduled_at) constraint, so two schedulers — or one restarted — that fire
// the same policy at the same time record one run. A policy has at most one run pending or
// running (the partial unique index runs_one_active_per_policy, migration 0004): a second insert
// waits for the first transaction and then fails, whichever coordinator or API call made it.
import type { RunOutcome, RunState } from '../lifecycle/index.js';
import type { Queryable, Transaction } from './connect-catalogue.js';
import { CatalogueError, isUniqueViolation, NotFoundError } from './catalogue-errors.js';

const ONE_ACTIVE_RUN = 'runs_one_active_per_policy';

/**
 * The policy already has a run pending or running. `activeRun` is that run when known (the
 * insert failed inside a transaction that could not look it up: the caller fills it in).
 */
export class RunInProgressError extends CatalogueError {
  override name = 'RunInProgressError';
  constructor(readonly policyName: string, readonly activeRun: RunRecord | undefined, options: { cause?: unknown } = {}) {
    super('RUN_IN_PROGRESS', describeActive(policyName, activeRun), options);
  }
}

function describeActive(policyName: string, run: RunRecord | undefined): string {
  if (!run) return `policy ${policyName} already has a run in progress; a policy runs one at a time (see \`deltachain run list --policy ${policyName}\`)`;
  const since = (run.startedAt ?? run.createdAt).toISOString();
  return `policy ${policyName} already has a run in progress: run ${run.id} (${run.state} since ${since}); a policy runs one at a time — follow it with \`deltachain run watch ${run.id}\``;
}

export type RunTrigger = 'schedule' | 'manual';

export interface RunRecord {
  id: string;
  policyId: string | null;
  policyName: string;
  scheduledAt: Date;
  trigger: RunTrigger;
  state: RunState;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  error: string | null;
}

export interface RunInsert {
  id: string;
  policyId: string;
  policyName: string;
  scheduledAt: Date;
  trigger: RunTrigger;
  createdAt: Date;
}

/**
 * Records a run; returns it and whether it was new (false: this firing was recorded before).
 * Throws RunInProgressError (without the active run: the statement failed) when the policy has
 * a run pending or running.
 */
export async function insertRun(db: Queryable, run: RunInsert): Promise<{ run: RunRecord; created: boolean }> {
  let inserted: RunRecord | undefined;
  try {
    [inserted] = await db<RunRecord[]>`
      insert into runs (id, policy_id, policy_name, scheduled_at, trigger, created_at)
      values (${run.id}, ${run.policyId}, ${run.policyName}, ${run.scheduledAt}, ${run.trigger}, ${run.createdAt})
      on conflict (policy_id, scheduled_at) do nothing
      returning *`;
  } catch (error) {
    if (isUniqueViolation(error, ONE_ACTIVE_RUN)) throw new RunInProgressError(run.policyName, undefined, { cause: error });
    throw error;
  }
  if (inserted) return { run: inserted, created: true };
  const [existing] = await db<RunRecord[]>`
    select * from runs where policy_id = ${run.policyId} and scheduled_at = ${run.scheduledAt}`;
  if (!existing) throw new NotFoundError(`run of policy ${run.policyName} at ${run.scheduledAt.toISOString()} vanished while recording it`);
  return { run: existing, created: false };
}

export async function getRun(db: Queryable, id: string): Promise<RunRecord> {
  const [run] = await db<RunRecord[]>`select * from runs where id = ${id}`;
  if (!run) throw new NotFoundError(`no run with id ${id}; see \`deltachain run list\``);
  return run;
}

/** Runs whose id starts with `prefix` (the CLI accepts the first characters of an id). */
export async function findRunsByPrefix(db: Queryable, prefix: string): Promise<RunRecord[]> {
  return db<RunRecord[]>`select * from runs where id::text like ${prefix.toLowerCase() + '%'} order by created_at desc limit 2`;
}

export async function listRuns(db: Queryable, filter: { policyName?: string; limit?: number } = {}): Promise<RunRecord[]> {
  const limit = filter.limit ?? 50;
  if (filter.policyName !== undefined) {
    return db<RunRecord[]>`select * from runs where policy_name = ${filter.policyName} order by created_at desc limit ${limit}`;
  }
  return db<RunRecord[]>`select * from runs order by created_at desc limit ${limit}`;
}

/** The newest scheduled firing recorded for a policy (the scheduler's catch-up point). */
export async function lastScheduledAt(db: Queryable, policyId: string): Promise<Date | undefined> {
  const [row] = await db<{ at: Date | null }[]>`
    select max(scheduled_at) as at from runs where policy_id = ${policyId} and trigger = 'schedule'`;
  return row?.at ?? undefined;
}

/** Runs not finished yet: the coordinator's work list after a restart. */
export async function listUnfinishedRuns(db: Queryable): Promise<RunRecord[]> {
  return db<RunRecord[]>`select * from runs where finished_at is null order by created_at`;
}

/** Locks a run's row until the transaction ends (refreshes of one run follow each other). */
export async function lockRun(tx: Transaction, id: string): Promise<void> {
  await tx`select 1 from runs where id = ${id} for update`;
}

/** Those of `ids` that are runs not finished, share-locked until the transaction ends. */
export async function lockOpenRuns(tx: Transaction, ids: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await tx<{ id: string }[]>`
    select id from runs where id = any(${ids as string[]}::uuid[]) and finished_at is null order by id for share`;
  return new Set(rows.map((r) => r.id));
}

/** Saves a run's derived state; a no-op (no row version written) when nothing changes. */
export async function saveRunOutcome(db: Queryable, id: string, outcome: RunOutcome, now: Date): Promise<void> {
  await db`
    update runs set state = ${outcome.state}, error = ${outcome.error},
      started_at = case when ${outcome.state} <> 'pending' then coalesce(started_at, ${now}) else started_at end,
      finished_at = case when ${outcome.finished} then coalesce(finished_at, ${now}) else null end
    where id = ${id}
      and not (state = ${outcome.state}::text and error is not distinct from ${outcome.error}::text
               and (finished_at is not null) = ${outcome.finished}::boolean
               and (${outcome.state}::text = 'pending' or started_at is not null))`;
}

/** The newest run of every policy that has one. */
export async function latestRunPerPolicy(db: Queryable): Promise<Map<string, RunRecord>> {
  const rows = await db<RunRecord[]>`
    select distinct on (policy_id) * from runs where policy_id is not null order by policy_id, created_at desc`;
  return new Map(rows.map((r) => [r.policyId!, r]));
}

/** The policy's run pending or running, if any (at most one: runs_one_active_per_policy). */
export async function activeRunOf(db: Queryable, policyId: string): Promise<RunRecord | undefined> {
  const [run] = await db<RunRecord[]>`select * from runs where policy_id = ${policyId} and state in ('pending', 'running')`;
  return run;
}

/**
 * Records a firing that was not run because `active` (a run of the same policy) was still going:
 * a finished run in state `skipped` that names it. Idempotent like insertRun (same firing, one
 * row); returns whether it was new.
 */
export async function insertSkippedRun(db: Queryable, run: RunInsert, active: RunRecord): Promise<boolean> {
  const error = `skipped: run ${active.id} of this policy was still ${active.state}`;
  const rows = await db`
    insert into runs (id, policy_id, policy_name, scheduled_at, trigger, state, created_at, finished_at, error)
    values (${run.id}, ${run.policyId}, ${run.policyName}, ${run.scheduledAt}, ${run.trigger}, 'skipped', ${run.createdAt},
            ${run.createdAt}, ${error})
    on conflict (policy_id, scheduled_at) do nothing`;
  return rows.count > 0;
}

export async function hasUnfinishedRun(db: Queryable, policyId: string): Promise<boolean> {
  const rows = await db`select 1 from runs where policy_id = ${policyId} and finished_at is null limit 1`;
  return rows.length > 0;
}
