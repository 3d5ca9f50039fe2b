// Runs the tasks addressed to this remote (proto deltachain.tasks.v1.Task) and reports them as
// events: `started`, throttled `progress`, and one `result` (success with the task's output, or
// failure with a stable code and whether retrying helps). Every handler is idempotent (see each
// task module), so a redelivered task is simply run again. A task whose result cannot be published
// is redelivered later (the caller naks it).
import type { Logger } from '../../shared/logging/index.js';
import { DeltachainError, errorMessage } from '../../shared/errors.js';
import type { EventBody, TaskDelivery, TaskOutcome } from '../../shared/nats/index.js';
import { decodeTask } from '../../shared/nats/index.js';
import { TaskStatus, type TaskResult } from '../../shared/proto/gen/deltachain/tasks/v1/event.js';
import { TaskKind, type Task } from '../../shared/proto/gen/deltachain/tasks/v1/task.js';
import { StorageRequestError } from './errors.js';
import type { RemoteContext } from './remote-context.js';
import { asRemoteFull } from './remote-full.js';
import { toProtoSummary } from './proto-mapping.js';
import { runDeleteTask } from './tasks/delete-task.js';
import { runMergeTask } from './tasks/merge-task.js';
import { runScanTask } from './tasks/scan-task.js';
import { runVerifyTask } from './tasks/verify-task.js';

/** Where events go (NATS in the agent; a list in unit tests). */
export interface EventSink {
  publish(taskId: string, body: EventBody): Promise<void>;
}

export interface TaskRunnerOptions {
  /** Minimum time between two progress events of one task, ms. */
  progressIntervalMs?: number;
  /** Merge checkpoint interval in blocks (VHD merge option). */
  mergeCheckpointBlocks?: number;
}

type Output = TaskResult['output'];
type Progress = (done: number, total: number) => void;

const KIND_OF_CASE: Record<string, TaskKind> = {
  merge: TaskKind.TASK_KIND_MERGE,
  verify: TaskKind.TASK_KIND_VERIFY,
  delete: TaskKind.TASK_KIND_DELETE,
  scan: TaskKind.TASK_KIND_SCAN,
};

export class StorageTaskRunner {
  readonly #ctx: RemoteContext;
  readonly #events: EventSink;
  readonly #options: TaskRunnerOptions;
  readonly #log: Logger;

  constructor(ctx: RemoteContext, events: EventSink, options: TaskRunnerOptions = {}) {
    this.#ctx = ctx;
    this.#events = events;
    this.#options = options;
    this.#log = ctx.logger.child({ component: 'storage-tasks' });
  }

  /** The JetStream handler: decode, run, report. */
  async handle(delivery: TaskDelivery): Promise<TaskOutcome> {
    let task: Task;
    try {
      task = decodeTask(delivery.data);
    } catch (error) {
      this.#log.error({ err: error, subject: delivery.subject }, 'undecodable task dropped');
      return 'ack';
    }
    await this.#events.publish(task.taskId, { $case: 'started', value: { attempt: task.attempt, delivery: delivery.deliveryCount } });
    const result = await this.run(task, delivery.working);
    // Handed back to the queue at shutdown: it runs again elsewhere, so this run reports nothing.
    if (delivery.signal?.aborted) return { redeliverAfterMs: 0 };
    await this.#events.publish(task.taskId, { $case: 'result', value: { ...result, attempt: task.attempt } });
    return 'ack';
  }

  /** Runs one task; never throws (failures become a FAILED result). */
  async run(task: Task, keepAlive: () => void = () => undefined): Promise<TaskResult> {
    const started = Date.now();
    const log = this.#log.child({ taskId: task.taskId, kind: task.payload?.$case });
    try {
      this.#check(task);
      const output = await this.#locked(task, () => this.#execute(task, this.#progress(task, keepAlive)));
      log.info({ ms: Date.now() - started }, 'task succeeded');
      return { status: TaskStatus.TASK_STATUS_SUCCEEDED, error: undefined, durationMs: Date.now() - started, output };
    } catch (thrown) {
      const error = await asRemoteFull(this.#ctx, thrown, `the ${task.payload?.$case ?? 'storage'} task`);
      const code = error instanceof DeltachainError ? error.code : 'STORAGE_TASK_FAILED';
      const retryable = error instanceof DeltachainError ? error.retryable : true;
      log.warn({ code, err: error }, 'task failed');
      return {
        status: TaskStatus.TASK_STATUS_FAILED,
        error: { code, message: errorMessage(error), retryable, side: (error instanceof DeltachainError ? error.side : undefined) ?? '' },
        durationMs: Date.now() - started,
        output: undefined,
      };
    }
  }

  #check(task: Task): void {
    const target = task.target?.agent;
    if (target?.$case !== 'remoteId' || target.value !== this.#ctx.remoteId) {
      throw new StorageRequestError(`task ${task.taskId} is addressed to ${target ? `${target.$case} ${target.value}` : 'no one'}, not remote ${this.#ctx.remoteId}`);
    }
    const payload = task.payload;
    if (!payload || KIND_OF_CASE[payload.$case] === undefined) {
      throw new StorageRequestError(`task ${task.taskId}: a storage agent runs merge, verify, delete and scan tasks, not ${payload?.$case ?? 'an empty one'}`);
    }
    if (task.kind !== KIND_OF_CASE[payload.$case]) throw new StorageRequestError(`task ${task.taskId}: kind ${task.kind} does not match its ${payload.$case} payload`);
    if (task.deadlineMs > 0 && Date.now() > task.deadlineMs) throw new StorageRequestError(`task ${task.taskId}: its deadline passed before it started`);
  }

  async #execute(task: Task, progress: Progress): Promise<Output> {
    const ctx = this.#ctx;
    const payload = task.payload!;
    switch (payload.$case) {
      case 'merge': {
        const r = await runMergeTask(ctx, payload.value, { onProgress: progress, checkpointBlocks: this.#options.mergeCheckpointBlocks });
        return { $case: 'merge', value: { disks: r.disks, retiredBackupIds: r.retiredBackupIds } };
      }
      case 'verify':
        return { $case: 'verify', value: await runVerifyTask(ctx, payload.value, progress) };
      case 'delete':
        return { $case: 'delete', value: await runDeleteTask(ctx, payload.value) };
      case 'scan': {
        const r = await runScanTask(ctx, payload.value);
        return { $case: 'scan', value: { ...r, backups: r.backups.map(toProtoSummary) } };
      }
      default:
        throw new StorageRequestError(`task ${task.taskId}: unsupported payload ${payload.$case}`);
    }
  }

  /** Verify reads a VM's chains: it shares their lock, so no merge rewrites them under it (chain-locks.ts). */
  #locked(task: Task, run: () => Promise<Output>): Promise<Output> {
    const payload = task.payload;
    return payload?.$case === 'verify' ? this.#ctx.locks.chains.read(payload.value.vmUuid, run) : run();
  }

  /** Progress callback: extends the ack, publishes at most one event per interval. */
  #progress(task: Task, keepAlive: () => void): Progress {
    const { taskId } = task;
    const phase = task.payload?.$case ?? 'task';
    const interval = this.#options.progressIntervalMs ?? 1000;
    let last = 0;
    return (done, total) => {
      const now = Date.now();
      if (now - last < interval && done < total) return;
      last = now;
      keepAlive();
      this.#events.publish(taskId, { $case: 'progress', value: { phase, done, total, unit: 'blocks', attempt: task.attempt } }).catch((error: unknown) => {
        this.#log.warn({ err: error, taskId }, 'progress event not published');
      });
    };
  }
}
