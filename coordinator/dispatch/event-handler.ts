// Applies one agent event to the catalogue. Heartbeats update the agents table, inventory
// reports the vms table (record-inventory.ts); task events
// move the task's lifecycle under its row lock, and a success applies the task's effects in the
// same transaction. Afterwards the run's state is re-derived and retention is asked for its next
// step. Every path is idempotent, because JetStream may deliver an event twice and a task may
// be reported by two attempts.
import type { Catalog, TaskRecord } from '../catalog/index.js';
import { CatalogError, getTask, NotFoundError, recordHeartbeat, withTaskLocked } from '../catalog/index.js';
import { applyTaskEvent, type RetryDelay, type TaskEvent, type TaskLimits, type Transition } from '../lifecycle/index.js';
import type { Ids } from '../scheduler/index.js';
import type { Logger } from '../../shared/logging/index.js';
import type { AgentEvent, TaskAgentEvent } from './agent-event.js';
import { recordInventory } from './record-inventory.js';
import { queueRetention } from './queue-retention.js';
import { queueTask } from './queue-task.js';
import { refreshRun } from './refresh-run.js';
import { applyTaskEffects, type BackupLookup } from './task-effects.js';
import type { BackupPayload, MergePayload } from './task-payloads.js';

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
    if (event.type === 'heartbeat') return recordHeartbeat(this.options.sql, event.heartbeat);
    if (event.type === 'inventory') return recordInventory(this.options.sql, event, this.options.logger);
    const task = await this.transition(event);
    if (!task) return;
    const now = this.options.clock();
    // A task now running (started, progress) leaves its run's state as it was: the dispatcher
    // refreshed the run when it sent the task. Only a task that ended or went back to the queue
    // can change it — skipping the rest saves a transaction per started and progress event.
    if (task.runId && task.state !== 'running') await refreshRun(this.options.sql, task.runId, now);
    if (task.state === 'succeeded') await this.followUp(task, now);
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

  /** Moves the task; returns it when it changed, undefined otherwise. */
  private async transition(received: TaskAgentEvent): Promise<TaskRecord | undefined> {
    const { sql, lookup, logger, retryDelay } = this.options;
    const event = await this.withBackupFacts(received);
    try {
      return await withTaskLocked(sql, event.taskId, async (task, tx) => {
        const transition: Transition = applyTaskEvent(task, this.lifecycleEvent(event, task), retryDelay);
        if (!transition.changed) return { value: undefined };
        let next = transition.task;
        if (transition.outcome === 'succeeded' && event.type === 'result' && event.ok) {
          next = { ...next, result: await applyTaskEffects(tx, task, event.output, lookup, this.options.clock()) };
        }
        if (transition.outcome && transition.outcome !== 'dispatched') {
          logger.info({ taskId: task.id, kind: task.kind, vm: task.vmUuid, remote: task.remoteName, outcome: transition.outcome, error: next.errorCode ?? undefined }, 'task moved');
        }
        return { save: next, value: { ...task, ...next } };
      });
    } catch (error) {
      if (error instanceof NotFoundError) {
        logger.warn({ taskId: event.taskId, agent: event.agentId }, 'event for an unknown task ignored');
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
  private async recordUnlinked(taskId: string, error: CatalogError): Promise<TaskRecord | undefined> {
    const { sql, clock, ids, limits, retryDelay, logger } = this.options;
    const task = await getTask(sql, taskId);
    const now = clock();
    await withTaskLocked(sql, taskId, async (current) => {
      const t = applyTaskEvent(current, { type: 'succeeded', at: now, attempt: current.attempt, result: { recorded: false, reason: error.message } }, retryDelay);
      return { save: t.changed ? t.task : undefined, value: undefined };
    });
    await queueTask(sql, { id: ids.uuid(), kind: 'scan', addressKind: 'remote', address: task.remoteName!, remoteName: task.remoteName, vmUuid: null, payload: { removeGarbage: false, graceSeconds: 3600 } }, limits, now);
    logger.warn({ taskId, remote: task.remoteName, err: error }, 'backup committed on a chain the catalogue lacks; remote scan queued');
    this.options.onQueued?.();
    return getTask(sql, taskId);
  }

  private async followUp(task: TaskRecord, now: Date): Promise<void> {
    if (task.kind !== 'backup' && task.kind !== 'merge' && task.kind !== 'delete') return;
    const policyId = (task.payload as unknown as BackupPayload | MergePayload).policyId;
    if (!policyId || !task.vmUuid || !task.remoteName) return;
    const { sql, ids, limits } = this.options;
    const queued = await queueRetention(sql, { vmUuid: task.vmUuid, remote: task.remoteName, policyId, runId: task.runId }, ids, limits, now);
    if (queued) {
      if (task.runId) await refreshRun(sql, task.runId, now);
      this.options.onQueued?.();
    }
  }
}
