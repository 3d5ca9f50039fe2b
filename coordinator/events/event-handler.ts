// Applies agents' events to the catalogue, if their senders may send them (event-senders.ts: a
// task's events come from its addressee only). Heartbeats update the agents table, inventory
// reports the vms table (record-inventory.ts); task events move their tasks' lifecycles under
// their row locks, and a success applies the task's effects and queues what follows it (the next
// retention step: queue-follow-ups.ts) in the same transaction (a final failure applies its
// effects too: task-effects.ts applyFailureEffects). Afterwards each run touched is re-derived —
// never before its follow-ups are queued, or a run could be seen finished with its merges still
// to come. Every path is idempotent, because JetStream may deliver an event twice and a task may
// be reported by two attempts.
//
// Events come in batches (event-consumer.ts; one event is a batch of one). The backups' facts are
// asked of the storage agents for the whole batch first (no transaction open meanwhile); then one
// transaction locks every task of the batch (in id order), moves each through its events in order
// in memory, applies the successes' effects (the backups' all together: task-effects.ts) and
// writes every task in one statement, then queues the follow-ups in that same transaction; after
// the commit each run is refreshed once. A batch that fails as a whole (a backup the remote does
// not list yet, a delta on a chain the catalogue lacks, a conflict) is applied again one event at
// a time, so each event gets its own outcome.
import type { Catalogue, TaskOf, TaskRecord } from '../catalogue/index.js';
import { CatalogueError, getTask, getTasks, lockTasks, recordHeartbeat, saveTasks, withTaskLocked, type BackupFacts } from '../catalogue/index.js';
import { applyTaskEvent, type RetryDelay, type TaskEvent, type TaskFailure, type TaskLimits, type Transition } from '../lifecycle/index.js';
import type { Ids } from '../tasks/index.js';
import { DeltachainError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logging/index.js';
import { isTaskEvent, type AgentEvent, type TaskAgentEvent, type TaskOutput } from './agent-event.js';
import { describeSender } from '../../shared/nats/index.js';
import { recordInventory } from './record-inventory.js';
import { foreignEvents, mayReport } from './event-senders.js';
import { queueFollowUps } from './queue-follow-ups.js';
import { queueTask } from '../dispatch/queue-task.js';
import { refreshRun } from '../dispatch/refresh-run.js';
import { applyBackupEffects, applyFailureEffects, applyTaskEffects, type BackupLookup } from './task-effects.js';

export interface EventHandlerOptions {
  sql: Catalogue;
  clock: () => Date;
  ids: Ids;
  limits: TaskLimits;
  retryDelay: RetryDelay;
  lookup: BackupLookup;
  logger: Logger;
  /** Called when new tasks were queued (wake the dispatcher). */
  onQueued?: () => void;
  /** The lease term of the active coordinator this handler runs in: attempts of older terms an agent refused unrun are dispatched again. */
  term?: number;
}

export class EventHandler {
  constructor(private readonly options: EventHandlerOptions) {}

  /** Applies one event: a batch of one; throws what it failed with. */
  async handle(event: AgentEvent): Promise<void> {
    const [failure] = await this.handleBatch([event]);
    if (failure !== undefined) throw failure;
  }

  /** Applies events in order (see the header); per event, undefined or the error it failed with. */
  async handleBatch(events: readonly AgentEvent[]): Promise<(unknown | undefined)[]> {
    const foreign = await foreignEvents(this.options.sql, events, this.options.logger);
    if (foreign.size === 0) return this.applyBatch(events);
    const kept = events.filter((e) => !foreign.has(e));
    const failures = await this.applyBatch(kept);
    const byEvent = new Map(kept.map((e, i) => [e, failures[i]]));
    return events.map((e) => byEvent.get(e));
  }

  private async applyAgentEvent(event: Exclude<AgentEvent, TaskAgentEvent>): Promise<void> {
    if (event.type === 'heartbeat') return recordHeartbeat(this.options.sql, event.heartbeat);
    if (event.type === 'inventory') return recordInventory(this.options.sql, event, this.options.logger);
    if (event.code === 'deposed' && (await this.supersede(event))) return;
    // Never applied to the task it names (anyone who could publish a task could name any id).
    this.options.logger.error({ agent: describeSender(event.sender), claimedTaskId: event.claimedTaskId, subject: event.subject }, `${describeSender(event.sender)} refused a task message: ${event.reason}`);
  }

  /**
   * An agent refused an attempt because a deposed coordinator dispatched it (its term is older
   * than one the agent has seen). Acted on only when the catalogue agrees: the task is addressed
   * to the sender, still dispatched (not started) at that attempt, recorded under that term, and
   * the term is older than this coordinator's. Then that attempt never ran: dispatch it again.
   */
  private async supersede(event: Extract<AgentEvent, { type: 'refused' }>): Promise<boolean> {
    const { term, sql, clock, retryDelay, logger } = this.options;
    if (term === undefined || event.leaderTerm >= term || !/^[0-9a-f-]{36}$/.test(event.claimedTaskId)) return false;
    const superseded = await withTaskLocked(sql, event.claimedTaskId, async (task) => {
      const agrees = mayReport(event.sender, task) && task.state === 'dispatched' && task.attempt === event.attempt && task.dispatchTerm === event.leaderTerm;
      if (!agrees) return { value: undefined };
      const t = applyTaskEvent(task, { type: 'superseded', at: clock(), attempt: event.attempt }, retryDelay);
      return { save: t.changed ? t.task : undefined, value: t.changed ? task : undefined };
    }).catch((error: unknown) => {
      if (error instanceof CatalogueError && error.code === 'NOT_FOUND') return undefined;
      throw error;
    });
    if (!superseded) return false;
    // The other backup tasks that went in the same message (one export, many remotes) were refused with it.
    if (superseded.kind === 'backup' && superseded.runId !== null && superseded.dispatchedAt !== null) {
      const siblings = await sql<{ id: string }[]>`
        select id from tasks where run_id = ${superseded.runId} and vm_uuid = ${superseded.vmUuid} and kind = 'backup' and id <> ${superseded.id}
          and state = 'dispatched' and dispatch_term = ${event.leaderTerm} and dispatched_at = ${superseded.dispatchedAt}`;
      for (const { id } of siblings) {
        await withTaskLocked(sql, id, async (task) => {
          const t = applyTaskEvent(task, { type: 'superseded', at: clock(), attempt: task.attempt }, retryDelay);
          return { save: t.changed ? t.task : undefined, value: undefined };
        });
      }
    }
    if (!superseded) return false;
    logger.warn({ agent: describeSender(event.sender), taskId: event.claimedTaskId, attempt: event.attempt, refusedTerm: event.leaderTerm, term }, 'an agent refused an attempt a deposed coordinator dispatched: dispatched again under this term');
    this.options.onQueued?.();
    return true;
  }

  private async applyBatch(events: readonly AgentEvent[]): Promise<(unknown | undefined)[]> {
    const failures: (unknown | undefined)[] = events.map(() => undefined);
    const taskEvents: { event: TaskAgentEvent; i: number }[] = [];
    for (const [i, event] of events.entries()) {
      if (isTaskEvent(event)) taskEvents.push({ event, i });
      else await this.applyAgentEvent(event).catch((error: unknown) => (failures[i] = error));
    }
    if (taskEvents.length === 0) return failures;
    const { events: withFacts, unconfirmed } = await this.withBatchFacts(taskEvents.map((t) => t.event));
    // A success whose backup the remote did not confirm (not listed yet, storage agent not
    // answering) waits for its redelivery, with the task's other events of this batch (handed
    // back too; the lifecycle ignores whatever comes late): the rest of the batch goes on.
    const applied: { event: TaskAgentEvent; i: number }[] = [];
    for (const [k, event] of withFacts.entries()) {
      const i = taskEvents[k]!.i;
      const held = unconfirmed.get(event.taskId);
      if (held) failures[i] = held;
      else applied.push({ event, i });
    }
    try {
      await this.applyTaskBatch(applied.map((a) => a.event));
    } catch (error) {
      if (applied.length > 1) this.options.logger.warn({ err: error, events: taskEvents.length }, 'a batch of events failed as a whole; applying them one at a time');
      for (const { event, i } of applied) {
        const alone = applied.length === 1 ? Promise.reject(error) : this.applyTaskBatch([event]);
        await alone.catch((e: unknown) => this.recoverAlone(event, e)).catch((e: unknown) => (failures[i] = e));
      }
    }
    return failures;
  }

  /** What one task event's failure leaves to do: a backup on a chain the catalogue lacks still succeeds. */
  private async recoverAlone(event: TaskAgentEvent, error: unknown): Promise<void> {
    if (!(error instanceof CatalogueError) || error.code !== 'PARENT_UNKNOWN') throw error;
    const task = await this.recordUnlinked(event.taskId, error);
    if (task.runId && task.state !== 'running') await refreshRun(this.options.sql, task.runId, this.options.clock());
  }

  /**
   * The backup facts of the batch's successes: one read of the tasks, one lookup per VM and
   * remote (no transaction open: a slow remote must not hold row locks). Returns the events with
   * the facts found, and the tasks whose success the remote did not confirm (task id → the error
   * to hand their events back with).
   */
  private async withBatchFacts(events: readonly TaskAgentEvent[]): Promise<{ events: TaskAgentEvent[]; unconfirmed: Map<string, DeltachainError> }> {
    const needs = (e: TaskAgentEvent) => e.type === 'result' && e.ok && (!e.output || e.output.kind === 'backup') && !e.output?.backup;
    const ids = [...new Set(events.filter(needs).map((e) => e.taskId))];
    const unconfirmed = new Map<string, DeltachainError>();
    if (ids.length === 0) return { events: [...events], unconfirmed };
    const tasks = (await getTasks(this.options.sql, ids)).filter((t): t is TaskOf<'backup'> => t.kind === 'backup' && t.state !== 'succeeded');
    const byId = new Map(tasks.map((t) => [t.id, t]));
    const backupIdOf = (e: TaskAgentEvent, task: TaskOf<'backup'>) => (e.type === 'result' && e.ok && e.output?.kind === 'backup' && e.output.backupId) || task.payload.backupId;
    const wanted = events.filter((e) => needs(e) && byId.has(e.taskId)).map((e) => ({ task: byId.get(e.taskId)!, backupId: backupIdOf(e, byId.get(e.taskId)!) }));
    const found = await this.findBackups(wanted);
    for (const { task, backupId } of wanted) {
      if (found.has(task.id)) continue;
      unconfirmed.set(task.id, new DeltachainError('BACKUP_NOT_FOUND', `task ${task.id} reports backup ${backupId} committed, but remote ${task.remoteName} does not list it (yet), or its storage agent did not answer`, { retryable: true }));
    }
    const withFacts = events.map((e) => {
      const task = byId.get(e.taskId);
      const backup = found.get(e.taskId);
      if (!needs(e) || !task || !backup || e.type !== 'result' || !e.ok) return e;
      const output: TaskOutput = e.output ?? { kind: 'backup', backupId: backupIdOf(e, task), snapshotUuid: '', bytesSent: 0 };
      return { ...e, output: { ...output, backup } as TaskOutput };
    });
    return { events: withFacts, unconfirmed };
  }

  /** The lookup's answers (task id → facts); a lookup that fails finds nothing. */
  private async findBackups(wanted: readonly { task: TaskRecord; backupId: string }[]): Promise<Map<string, BackupFacts>> {
    const { lookup, logger } = this.options;
    const one = async (w: { task: TaskRecord; backupId: string }) => [w.task.id, await lookup.findBackup(w.task, w.backupId).catch(() => undefined)] as const;
    try {
      if (lookup.findBackups) return await lookup.findBackups(wanted);
      return new Map((await Promise.all(wanted.map(one))).filter((e): e is [string, BackupFacts] => e[1] !== undefined));
    } catch (error) {
      logger.warn({ err: error, results: wanted.length }, 'the storage agents could not confirm a batch of backups; their results will be delivered again');
      return new Map();
    }
  }

  /** One transaction for the batch's task events and their follow-ups; then runs refreshed. */
  private async applyTaskBatch(events: readonly TaskAgentEvent[]): Promise<void> {
    const { sql, lookup, logger, retryDelay, clock, ids, limits } = this.options;
    const { moved, queued } = await sql.begin(async (tx) => {
      const locked = await lockTasks(tx, [...new Set(events.map((e) => e.taskId))]);
      const current = new Map(locked.map((t) => [t.id, t]));
      const changed = new Map<string, TaskRecord>();
      const effects: { task: TaskRecord; output: TaskOutput | undefined }[] = [];
      const failures: { task: TaskRecord; failure: TaskFailure }[] = [];
      for (const event of events) {
        const task = current.get(event.taskId);
        if (!task) {
          logger.warn({ taskId: event.taskId, agent: event.sender.agent }, 'event for an unknown task ignored');
          continue;
        }
        const transition: Transition = applyTaskEvent(task, this.lifecycleEvent(event, task), retryDelay);
        if (!transition.changed) continue;
        const next: TaskRecord = { ...task, ...transition.task };
        if (transition.outcome === 'succeeded' && event.type === 'result' && event.ok) effects.push({ task, output: event.output });
        if (transition.outcome === 'failed' && event.type === 'result' && !event.ok) failures.push({ task, failure: event.error });
        if (transition.outcome && transition.outcome !== 'dispatched') {
          logger.info({ taskId: task.id, kind: task.kind, vm: task.vmUuid, remote: task.remoteName, outcome: transition.outcome, error: next.errorCode ?? undefined }, 'task moved');
        }
        current.set(task.id, next);
        changed.set(task.id, next);
      }
      const now = clock();
      // Backups touch only their own VM's chain: recorded together, a few statements for all of
      // them. Merges, deletes and scans follow one at a time, in the order their results came.
      const backups = effects.flatMap(({ task, output }) => (task.kind === 'backup' ? [{ task, output }] : []));
      const backupResults = await applyBackupEffects(tx, backups, lookup, now);
      const results = new Map(backups.map(({ task }, i) => [task.id, backupResults[i]]));
      for (const { task, output } of effects) if (task.kind !== 'backup') results.set(task.id, await applyTaskEffects(tx, task, output, lookup, now));
      for (const { task, failure } of failures) await applyFailureEffects(tx, task, failure, now);
      for (const [id, result] of results) {
        const next = changed.get(id)!;
        if (next.state === 'succeeded') changed.set(id, { ...next, result });
      }
      await saveTasks(tx, [...changed.values()].map((t) => ({ id: t.id, lifecycle: t })));
      const succeeded = [...changed.values()].filter((t) => t.state === 'succeeded');
      return { moved: [...changed.values()], queued: await queueFollowUps(tx, succeeded, ids, limits, now) };
    });
    const now = clock();
    const runs = new Set(moved.filter((t) => t.runId && t.state !== 'running').map((t) => t.runId!));
    for (const runId of runs) await refreshRun(sql, runId, now);
    if (queued.length > 0) this.options.onQueued?.();
  }

  private lifecycleEvent(event: TaskAgentEvent, current: TaskRecord): TaskEvent {
    switch (event.type) {
      case 'started':
        return { type: 'started', at: event.at, attempt: event.attempt };
      case 'progress':
        return { type: 'progress', at: event.at, attempt: event.attempt ?? current.attempt, done: event.done, total: event.total };
      case 'result':
        return event.ok
          ? { type: 'succeeded', at: event.at, attempt: event.attempt ?? current.attempt, result: null }
          : { type: 'failed', at: event.at, attempt: event.attempt ?? current.attempt, error: event.error };
    }
  }

  /**
   * A backup committed on a remote whose chain the catalogue does not hold (files copied there,
   * a catalogue restored from an old dump): the task succeeded, and a scan of the remote is
   * queued to adopt the chain with the new backup.
   */
  private async recordUnlinked(taskId: string, error: CatalogueError): Promise<TaskRecord> {
    const { sql, clock, ids, limits, retryDelay, logger } = this.options;
    const task = await getTask(sql, taskId);
    const now = clock();
    await withTaskLocked(sql, taskId, async (current, tx) => {
      const t = applyTaskEvent(current, { type: 'succeeded', at: now, attempt: current.attempt, result: { recorded: false, reason: error.message } }, retryDelay);
      const afterSave = async () => void (t.changed ? await queueFollowUps(tx, [{ ...current, ...t.task }], ids, limits, now) : []);
      return { save: t.changed ? t.task : undefined, value: undefined, afterSave };
    });
    await queueTask(sql, { id: ids.uuid(), kind: 'scan', addressKind: 'remote', address: task.remoteName!, remoteName: task.remoteName, vmUuid: null, payload: { removeGarbage: false, graceSeconds: 3600 } }, limits, now);
    logger.warn({ taskId, remote: task.remoteName, err: error }, 'backup committed on a chain the catalogue lacks; remote scan queued');
    this.options.onQueued?.();
    return getTask(sql, taskId);
  }
}
