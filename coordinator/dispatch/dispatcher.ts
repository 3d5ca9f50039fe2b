// Sends tasks to agents. Each round:
//   1. tasks past their deadline time out (a retry is queued, or they fail);
//   2. queued tasks whose time has come are chosen (select-dispatch.ts), prepared (the full/delta
//      plan is made now, from the catalogue as it is), marked dispatched, then published — a run's
//      backup tasks of one VM (one per remote) as one message, so the pool exports once for all.
// The database is written before the message is published: a crash in between leaves a task
// "dispatched" that was never sent, and `republishInFlight` (run at start) sends it again with
// the same message id, which JetStream drops if the first publish did happen. A publish that
// fails (NATS away, no JetStream quorum) queues the task again after the first retry delay without
// counting the attempt: no agent can have it, and it must not run out of attempts while NATS is down.
// Fencing (docs/multi-site.md, "Coordinators"): a dispatcher runs only in the active coordinator,
// for one lease term. Each batch's transaction first checks that the term still holds the lease
// (fenceTerm: share-locks the lease row, so a takeover waits for it or is seen by it), and records
// the term on each attempt it dispatches; the task carries it, and agents refuse older terms.
// At scale (a night of thousands of VMs, test/bench/coordinator) a round prepares the chosen
// tasks in batches of up to DISPATCH_BATCH, one transaction each: the rows locked together
// (`for update skip locked`: a row another transaction holds waits for the next round), the
// planner's views read once per batch (prepare-dispatch.ts), every row written in one statement.
// A batch's publishes start once it committed; the round prepares the next batch meanwhile, waits
// for all of them at its end, and refreshes each run once.
import type { Catalogue, TaskRecord } from '../catalogue/index.js';
import { fenceTerm, getTask, inFlightFor, LeaseLostError, listInFlightTasks, listOverdueTasks, listPolicies, listReadyTasks, lockTasks, pairsWithActiveBackups, saveTasks, withTaskLocked, type TaskSave } from '../catalogue/index.js';
import { applyTaskEvent, type RetryDelay, type TaskEvent } from '../lifecycle/index.js';
import type { Logger } from '../../shared/logging/index.js';
import { ServiceLoop } from '../../shared/service-loop.js';
import type { Signer } from '../../shared/signing/index.js';
import { prepareDispatches, type PolicyFacts } from './prepare-dispatch.js';
import { refreshRun } from './refresh-run.js';
import { backupGroupOf, selectDispatch } from './select-dispatch.js';
import { messageIdOf, signedTask } from './task-envelope.js';
import type { TaskPublisher } from './task-publisher.js';

/** Tasks prepared in one transaction. */
const DISPATCH_BATCH = 200;
/** Ready tasks read (and chosen from) per round. */
const READY_PAGE = 1000;

export interface DispatcherOptions {
  sql: Catalogue;
  publisher: TaskPublisher;
  clock: () => Date;
  retryDelay: RetryDelay;
  logger: Logger;
  /** Milliseconds between rounds when nothing wakes it; default 1000. */
  intervalMs?: number;
  /** The coordinator's key (keys.signing): backup and restore tasks carry grants signed with it. */
  signer?: Signer | undefined;
  /** The lease term this dispatcher acts under (coordinator/service/leadership.ts); absent: unfenced (tests of one coordinator). */
  term?: number;
  /** Told when a batch found the term no longer holds the lease (nothing of that batch was written). */
  onLeaseLost?: (error: LeaseLostError) => void;
}

export class Dispatcher extends ServiceLoop {
  constructor(private readonly options: DispatcherOptions) {
    super({
      afterFailureMs: options.intervalMs ?? 1000,
      onError: (error) => {
        if (error instanceof LeaseLostError) return options.onLeaseLost?.(error);
        options.logger.error({ err: error }, 'dispatch round failed');
      },
    });
  }

  /** A round that sent tasks may have left more ready (a page of them was read): go again now. */
  protected async round(): Promise<number> {
    return (await this.runRound()) > 0 ? 0 : (this.options.intervalMs ?? 1000);
  }

  /** One round: time out overdue tasks, then dispatch what may go. Returns tasks sent. */
  async runRound(): Promise<number> {
    await this.timeOutOverdue();
    const { sql, clock } = this.options;
    const now = clock();
    const ready = await listReadyTasks(sql, now, READY_PAGE);
    if (ready.length === 0) return 0; // the common case while results come in: nothing more to read
    const releases = ready.flatMap((t) => (t.kind === 'release' ? [{ policyId: t.payload.policyId, pool: t.address }] : []));
    const [inFlight, policies, backupsActive] = await Promise.all([inFlightFor(sql, ready), listPolicies(sql), pairsWithActiveBackups(sql, releases)]);
    const byId = new Map(policies.map((p) => [p.id, p]));
    const chosen = selectDispatch(ready, inFlight.keys, { concurrencyOf: (id) => byId.get(id)?.concurrency, backupsActive }, inFlight.running);
    const policyOf = (policyId: string) => byId.get(policyId);
    const runs = new Set<string>();
    const publishing: Promise<number>[] = [];
    for (const batch of wholeGroups(chosen, DISPATCH_BATCH)) {
      // The rows say dispatched (committed); the publishes are awaited with the round's others.
      for (const group of messagesOf(await this.prepareBatch(batch.map((t) => t.id), policyOf))) publishing.push(this.publish(group));
      for (const task of batch) if (task.runId) runs.add(task.runId);
    }
    const sent = (await Promise.all(publishing)).reduce((a, b) => a + b, 0);
    for (const runId of runs) await refreshRun(sql, runId, clock());
    return sent;
  }

  /** Prepares tasks and marks them dispatched (committed); returns those to publish. */
  private async prepareBatch(ids: readonly string[], policyOf: (policyId: string) => PolicyFacts | undefined): Promise<TaskRecord[]> {
    const { sql, clock, retryDelay, logger } = this.options;
    const now = clock();
    const { term } = this.options;
    return sql.begin(async (tx) => {
      if (term !== undefined) await fenceTerm(tx, term);
      const dispatching = (await lockTasks(tx, ids, { skipLocked: true }))
        .map((task) => ({ task, dispatched: applyTaskEvent(task, { type: 'dispatch', at: now }, retryDelay) }))
        .filter(({ dispatched }) => dispatched.changed);
      const preparations = await prepareDispatches(tx, dispatching.map(({ task }) => task), policyOf);
      const saves: TaskSave[] = [];
      const ready: TaskRecord[] = [];
      for (const { task, dispatched } of dispatching) {
        const preparation = preparations.get(task.id)!;
        if (!preparation.ok) {
          const failed = applyTaskEvent(dispatched.task, { type: 'failed', at: now, attempt: dispatched.task.attempt, error: preparation.error }, retryDelay);
          logger.warn({ taskId: task.id, code: preparation.error.code }, 'task cannot be dispatched yet');
          saves.push({ id: task.id, lifecycle: failed.task });
          continue;
        }
        if (preparation.done) {
          // Nothing left to send (a release whose every VM still seeds a kept remote): done here.
          const done = applyTaskEvent(dispatched.task, { type: 'succeeded', at: now, attempt: dispatched.task.attempt, result: preparation.done }, retryDelay);
          logger.info({ taskId: task.id, kind: task.kind }, 'task done at dispatch: nothing to send');
          saves.push({ id: task.id, lifecycle: done.task, payload: preparation.payload });
          continue;
        }
        saves.push({ id: task.id, lifecycle: dispatched.task, payload: preparation.payload, ...(term === undefined ? {} : { term }) });
        ready.push({ ...task, ...dispatched.task, payload: preparation.payload, dispatchTerm: term ?? null } as TaskRecord);
      }
      await saveTasks(tx, saves);
      return ready;
    }) as Promise<TaskRecord[]>;
  }

  /** Publishes one message: a task, or a run's backup tasks of one VM (the first carries the others). Returns the tasks sent. */
  private async publish(group: readonly TaskRecord[]): Promise<number> {
    const { logger } = this.options;
    const [task, ...more] = group as [TaskRecord, ...TaskRecord[]];
    try {
      const { data, signature } = signedTask(task, this.options.signer, more);
      await this.options.publisher.publish(task, data, messageIdOf(task), signature);
      const remotes = more.length === 0 ? { remote: task.remoteName } : { remotes: group.map((t) => t.remoteName), withTasks: more.map((t) => t.id) };
      logger.info({ taskId: task.id, kind: task.kind, address: task.address, vm: task.vmUuid, ...remotes, attempt: task.attempt }, 'task dispatched');
      return group.length;
    } catch (error) {
      logger.warn({ taskId: task.id, err: error }, 'publishing a task failed');
      const failure = { code: 'DISPATCH_FAILED', message: `could not publish the task to NATS: ${(error as Error).message}`, retryable: true };
      for (const t of group) await this.apply(t.id, { type: 'unsent', at: this.options.clock(), attempt: t.attempt, error: failure });
      return 0;
    }
  }

  private async apply(taskId: string, event: TaskEvent): Promise<void> {
    await withTaskLocked(this.options.sql, taskId, async (task) => {
      const t = applyTaskEvent(task, event, this.options.retryDelay);
      return { save: t.changed ? t.task : undefined, value: undefined };
    });
    await this.refresh(taskId);
  }

  private async refresh(taskId: string): Promise<void> {
    const task = await getTask(this.options.sql, taskId);
    if (task.runId) await refreshRun(this.options.sql, task.runId, this.options.clock());
  }

  private async timeOutOverdue(): Promise<void> {
    const now = this.options.clock();
    for (const task of await listOverdueTasks(this.options.sql, now)) {
      this.options.logger.warn({ taskId: task.id, attempt: task.attempt, kind: task.kind }, 'task timed out');
      await this.apply(task.id, { type: 'timeout', at: now });
    }
  }

  /** Publishes again every task marked dispatched (same attempt, same message id; tasks sent together, together again). */
  async republishInFlight(): Promise<number> {
    const tasks = (await listInFlightTasks(this.options.sql)).filter((t) => t.state === 'dispatched');
    let sent = 0;
    for (const group of messagesOf(tasks, (t) => t.dispatchedAt?.getTime() ?? 0)) sent += await this.publish(group);
    return sent;
  }
}

/**
 * The messages for prepared tasks: each alone, except a run's backup tasks of one VM (select-
 * dispatch.ts backupGroupOf), one message for all, led by the first remote by name. `also`: more
 * to agree on (when republishing: the dispatch time, so tasks sent apart stay apart).
 */
export function messagesOf(tasks: readonly TaskRecord[], also: (t: TaskRecord) => unknown = () => ''): TaskRecord[][] {
  const groups = new Map<string, TaskRecord[]>();
  const out: TaskRecord[][] = [];
  for (const task of tasks) {
    const key = backupGroupOf(task);
    if (key === undefined) {
      out.push([task]);
      continue;
    }
    const full = `${key}|${String(also(task))}`;
    const group = groups.get(full);
    if (group) group.push(task);
    else {
      const fresh = [task];
      groups.set(full, fresh);
      out.push(fresh);
    }
  }
  for (const group of groups.values()) group.sort((a, b) => (a.remoteName ?? '').localeCompare(b.remoteName ?? ''));
  return out;
}

/** Batches of about `size` tasks that never split a backup group. */
function wholeGroups<T extends TaskRecord>(tasks: readonly T[], size: number): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let last: string | undefined;
  for (const task of tasks) {
    const group = backupGroupOf(task);
    if (current.length >= size && (group === undefined || group !== last)) {
      batches.push(current);
      current = [];
    }
    current.push(task);
    last = group;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}
