// Applies one agent event to the catalogue, if its sender may send it (event-senders.ts: a task's
// events come from its addressee only). Heartbeats update the agents table, inventory
// reports the vms table (record-inventory.ts); task events
// move the task's lifecycle under its row lock, and a success applies the task's effects and
// queues what follows it (the next retention step: queue-follow-ups.ts) in the same transaction (a final failure
// applies its effects too: task-effects.ts applyFailureEffects).
// Afterwards the run's state is re-derived — never before its follow-ups are queued, or a run
// could be seen finished with its merges still to come. Every path is idempotent, because
// JetStream may deliver an event twice and a task may be reported by two attempts.
//
// `handleBatch` applies a batch of events (event-consumer.ts) with the same effect as `handle` on
// each in turn, in far fewer statements: the backups' facts are asked of the storage agents for
// the whole batch first (no transaction open meanwhile); then one transaction locks every task
// of the batch (in id order), moves each through its events in order in memory, applies the
// successes' effects (the backups' all together: catalog/record-backups.ts) and writes
// every task in one statement, then plans retention for the whole batch in that same
// transaction; after the commit each run is refreshed once. A batch that fails as a whole (a
// backup the remote does not list yet, a delta on a chain the catalogue lacks, a conflict) is
// applied again one event at a time through `handle`, so each event gets its own outcome.
import type { Catalog, TaskRecord } from '../catalogue/index.js';
import { CatalogError, getTask, lockTasks, NotFoundError, recordHeartbeat, saveTasks, withTaskLocked, type BackupFacts } from '../catalogue/index.js';
import { applyTaskEvent, type RetryDelay, type TaskEvent, type TaskFailure, type TaskLimits, type Transition } from '../lifecycle/index.js';
import type { Ids } from '../tasks/index.js';
import { DeltachainError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logging/index.js';
import { isTaskEvent, type AgentEvent, type TaskAgentEvent, type TaskOutput } from './agent-event.js';
import { describeSender } from '../../shared/nats/index.js';
import { recordInventory } from './record-inventory.js';
import { foreignEvents } from './event-senders.js';
import { queueFollowUps } from './queue-follow-ups.js';
import { queueTask } from '../dispatch/queue-task.js';
import { refreshRun } from '../dispatch/refresh-run.js';
import { applyBackupEffects, applyFailureEffects, applyTaskEffects, type BackupLookup } from './task-effects.js';
import type { BackupPayload } from '../tasks/index.js';

export interface EventHandlerOptions {
  sql: Catalog;
  clock: () => Date;
  ids: Ids;
  limits: TaskLimits;
  retryDelay: RetryDelay;
  lookup: BackupLookup;
  logger: Logger;
  /** Called when new tasks were queued (wake the dispatcher). */
  onQueued?: () => void;
}

export class EventHandler {
  constructor(private readonly options: EventHandlerOptions) {}

  async handle(event: AgentEvent): Promise<void> {
    if ((await foreignEvents(this.options.sql, [event], this.options.logger)).size > 0) return;
    await this.applyOne(event);
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

  private async applyOne(event: AgentEvent): Promise<void> {
    if (event.type === 'heartbeat') return recordHeartbeat(this.options.sql, event.heartbeat);
    if (event.type === 'inventory') return recordInventory(this.options.sql, event, this.options.logger);
    if (event.type === 'refused') {
      // Never applied to the task it names (anyone who could publish a task could name any id).
      this.options.logger.error({ agent: describeSender(event.sender), claimedTaskId: event.claimedTaskId, subject: event.subject }, `${describeSender(event.sender)} refused a task message: ${event.reason}`);
      return;
    }
    const moved = await this.transition(event);
    if (!moved) return;
    const { task, queued } = moved;
    // A task now running (started, progress) leaves its run's state as it was: the dispatcher
    // refreshed the run when it sent the task. Only a task that ended or went back to the queue
    // can change it — skipping the rest saves a transaction per started and progress event.
    if (task.runId && task.state !== 'running') await refreshRun(this.options.sql, task.runId, this.options.clock());
    if (queued.length > 0) this.options.onQueued?.();
  }

  private async applyBatch(events: readonly AgentEvent[]): Promise<(unknown | undefined)[]> {
    const failures: (unknown | undefined)[] = events.map(() => undefined);
    const taskEvents: TaskAgentEvent[] = [];
    for (const [i, event] of events.entries()) {
      if (isTaskEvent(event)) taskEvents.push(event);
      else await this.applyOne(event).catch((error: unknown) => (failures[i] = error));
    }
    if (taskEvents.length === 0) return failures;
    const { events: withFacts, unconfirmed } = await this.withBatchFacts(taskEvents);
    // A success whose backup the remote did not confirm (not listed yet, storage agent not
    // answering) waits for its redelivery, with the task's other events of this batch (handed
    // back too; the lifecycle ignores whatever comes late): the rest of the batch goes on.
    const held = (e: AgentEvent) => isTaskEvent(e) && unconfirmed.has(e.taskId);
    for (const [i, event] of events.entries()) if (held(event)) failures[i] = unconfirmed.get((event as TaskAgentEvent).taskId);
    try {
      await this.applyTaskBatch(withFacts.filter((e) => !held(e)));
    } catch (error) {
      this.options.logger.warn({ err: error, events: taskEvents.length }, 'a batch of events failed as a whole; applying them one at a time');
      for (const [i, event] of events.entries()) {
        if (isTaskEvent(event) && !held(event)) await this.applyOne(event).catch((e: unknown) => (failures[i] = e));
      }
    }
    return failures;
  }

  /**
   * withBackupFacts for a batch: one read of the tasks, one lookup per VM and remote. Returns the
   * events with the facts found, and the tasks whose success the remote did not confirm (task id
   * → the error to hand their events back with).
   */
  private async withBatchFacts(events: readonly TaskAgentEvent[]): Promise<{ events: TaskAgentEvent[]; unconfirmed: Map<string, DeltachainError> }> {
    const needs = (e: TaskAgentEvent) => e.type === 'result' && e.ok && (!e.output || e.output.kind === 'backup') && !e.output?.backup;
    const ids = [...new Set(events.filter(needs).map((e) => e.taskId))];
    const unconfirmed = new Map<string, DeltachainError>();
    if (ids.length === 0) return { events: [...events], unconfirmed };
    const tasks = (await this.options.sql<TaskRecord[]>`select * from tasks where id = any(${ids}::uuid[])`).filter((t) => t.kind === 'backup' && t.state !== 'succeeded');
    const byId = new Map(tasks.map((t) => [t.id, t]));
    const backupIdOf = (e: TaskAgentEvent, task: TaskRecord) => (e.type === 'result' && e.ok && e.output?.kind === 'backup' && e.output.backupId) || (task.payload as unknown as BackupPayload).backupId;
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
        const next = { ...task, ...transition.task } as TaskRecord;
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
      const backups = effects.filter(({ task }) => task.kind === 'backup');
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
   * A backup result without the backup's summary: ask the storage agent for it before taking the
   * task's row lock (a slow remote must not hold a transaction open).
   */
  private async withBackupFacts(event: TaskAgentEvent): Promise<TaskAgentEvent> {
    if (event.type !== 'result' || !event.ok || (event.output && event.output.kind !== 'backup') || event.output?.backup) return event;
    const task = await getTask(this.options.sql, event.taskId).catch(() => undefined);
    if (!task || task.kind !== 'backup' || task.state === 'succeeded') return event;
    const payload = task.payload as unknown as BackupPayload;
    const output = event.output ?? { kind: 'backup' as const, backupId: payload.backupId, snapshotUuid: '', bytesSent: 0 };
    const backup = await this.options.lookup.findBackup(task, output.backupId || payload.backupId);
    return backup ? { ...event, output: { ...output, backup } } : event;
  }

  /** Moves the task; returns it (and the follow-ups queued) when it changed, undefined otherwise. */
  private async transition(received: TaskAgentEvent): Promise<{ task: TaskRecord; queued: TaskRecord[] } | undefined> {
    const { sql, lookup, logger, retryDelay, ids, limits, clock } = this.options;
    const event = await this.withBackupFacts(received);
    try {
      return await withTaskLocked(sql, event.taskId, async (task, tx) => {
        const transition: Transition = applyTaskEvent(task, this.lifecycleEvent(event, task), retryDelay);
        if (!transition.changed) return { value: undefined };
        let next = transition.task;
        if (transition.outcome === 'succeeded' && event.type === 'result' && event.ok) {
          next = { ...next, result: await applyTaskEffects(tx, task, event.output, lookup, clock()) };
        }
        if (transition.outcome === 'failed' && event.type === 'result' && !event.ok) await applyFailureEffects(tx, task, event.error, this.options.clock());
        if (transition.outcome && transition.outcome !== 'dispatched') {
          logger.info({ taskId: task.id, kind: task.kind, vm: task.vmUuid, remote: task.remoteName, outcome: transition.outcome, error: next.errorCode ?? undefined }, 'task moved');
        }
        const value = { task: { ...task, ...next } as TaskRecord, queued: [] as TaskRecord[] };
        const succeeded = value.task.state === 'succeeded' ? [value.task] : [];
        const afterSave = async () => void (value.queued = await queueFollowUps(tx, succeeded, ids, limits, clock()));
        return { save: next, value, afterSave };
      });
    } catch (error) {
      if (error instanceof NotFoundError) {
        logger.warn({ taskId: event.taskId, agent: event.sender.agent }, 'event for an unknown task ignored');
        return undefined;
      }
      if (error instanceof CatalogError && error.code === 'PARENT_UNKNOWN') return this.recordUnlinked(event.taskId, error);
      throw error;
    }
  }

  /**
   * A backup committed on a remote whose chain the catalogue does not hold (files copied there,
   * a catalogue restored from an old dump): the task succeeded, and a scan of the remote is
   * queued to adopt the chain with the new backup.
   */
  private async recordUnlinked(taskId: string, error: CatalogError): Promise<{ task: TaskRecord; queued: TaskRecord[] }> {
    const { sql, clock, ids, limits, retryDelay, logger } = this.options;
    const task = await getTask(sql, taskId);
    const now = clock();
    const queued = await withTaskLocked(sql, taskId, async (current, tx) => {
      const t = applyTaskEvent(current, { type: 'succeeded', at: now, attempt: current.attempt, result: { recorded: false, reason: error.message } }, retryDelay);
      const value: TaskRecord[] = [];
      const afterSave = async () => void value.push(...(t.changed ? await queueFollowUps(tx, [{ ...current, ...t.task } as TaskRecord], ids, limits, now) : []));
      return { save: t.changed ? t.task : undefined, value, afterSave };
    });
    await queueTask(sql, { id: ids.uuid(), kind: 'scan', addressKind: 'remote', address: task.remoteName!, remoteName: task.remoteName, vmUuid: null, payload: { removeGarbage: false, graceSeconds: 3600 } }, limits, now);
    logger.warn({ taskId, remote: task.remoteName, err: error }, 'backup committed on a chain the catalogue lacks; remote scan queued');
    this.options.onQueued?.();
    return { task: await getTask(sql, taskId), queued };
  }
}
