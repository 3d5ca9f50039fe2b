// Runs the tasks addressed to this pool (deltachain.tasks.v1.Task: backup, restore, release of
// reference snapshots) and reports
// them as events: `started`, throttled `progress` (bytes, blocks, rate), one `result` (the
// outcome, or a failure with a stable code, the XAPI code and parameters in the message, and
// whether retrying helps). The handlers are idempotent: a redelivered backup whose backup is
// committed reports the first result (backup-vm.ts), a redelivered restore finds the VM it made
// (restore-vm.ts), a release finds nothing more to destroy (release-references.ts); a backup and
// a release of one VM never overlap in this agent (VmLocks). A task whose result cannot be published is redelivered later by the consumer.
import { DeltachainError, errorMessage } from '../../../shared/errors.js';
import type { Logger } from '../../../shared/logging/index.js';
import type { EventBody, TaskDelivery, TaskOutcome } from '../../../shared/nats/index.js';
import { decodeTask } from '../../../shared/nats/index.js';
import { TaskStatus, type TaskResult } from '../../../shared/proto/gen/deltachain/tasks/v1/event.js';
import { TaskKind, type Task } from '../../../shared/proto/gen/deltachain/tasks/v1/task.js';
import { backupVm } from '../backup/backup-vm.js';
import type { TransferRetryOptions } from '../backup/transfer-disk.js';
import type { ProgressListener } from '../backup/transfer-progress.js';
import { releaseReferences } from '../release/release-references.js';
import { restoreVm } from '../restore/restore-vm.js';
import type { HostXapi } from '../xapi/host-xapi.js';
import type { RemoteStorages } from './remote-storages.js';
import { backupOutput, backupRequestFrom, releaseOutput, releaseRequestFrom, restoreOutput, restoreRequestFrom } from './translate-task.js';
import { VmLocks } from './vm-locks.js';

/** Where events go (NATS in the agent). */
export interface EventSink {
  publish(taskId: string, body: EventBody): Promise<void>;
}

export interface HostTaskContext {
  poolId: string;
  xapi: HostXapi;
  storages: RemoteStorages;
  disksPerVm: number;
  /** Sending a disk again within an attempt (default DEFAULT_TRANSFER_RETRY). */
  transferRetry?: TransferRetryOptions;
  events: EventSink;
  logger: Logger;
  /** Minimum time between two progress events of one task, ms. */
  progressIntervalMs: number;
}

const HOST_TASK_KINDS: Partial<Record<NonNullable<Task['payload']>['$case'], TaskKind>> = {
  backup: TaskKind.TASK_KIND_BACKUP,
  restore: TaskKind.TASK_KIND_RESTORE,
  releaseReferences: TaskKind.TASK_KIND_RELEASE_REFERENCES,
};

export class TaskRefusedError extends DeltachainError {
  override name = 'TaskRefusedError';
  constructor(message: string) {
    super('TASK_REFUSED', message, { side: 'request' });
  }
}

export class HostTaskRunner {
  private readonly locks = new VmLocks();
  private readonly log: Logger;

  constructor(private readonly context: HostTaskContext) {
    this.log = context.logger.child({ component: 'host-tasks' });
  }

  /** The JetStream handler: decode, run, report. */
  async handle(delivery: TaskDelivery): Promise<TaskOutcome> {
    let task: Task;
    try {
      task = decodeTask(delivery.data);
    } catch (error) {
      this.log.error({ err: error, subject: delivery.subject }, 'undecodable task dropped');
      return 'ack';
    }
    await this.context.events.publish(task.taskId, { $case: 'started', value: { attempt: task.attempt, delivery: delivery.deliveryCount } });
    const result = await this.run(task, delivery.working);
    // Handed back to the queue at shutdown: it runs again elsewhere, so this run reports nothing.
    if (delivery.signal?.aborted) return { redeliverAfterMs: 0 };
    await this.context.events.publish(task.taskId, { $case: 'result', value: { ...result, attempt: task.attempt } });
    return 'ack';
  }

  /** Runs one task; never throws (failures become a FAILED result). */
  async run(task: Task, keepAlive: () => void = () => undefined): Promise<TaskResult> {
    const started = Date.now();
    const log = this.log.child({ taskId: task.taskId, kind: task.payload?.$case, vm: (task.payload?.value as { vmUuid?: string } | undefined)?.vmUuid });
    try {
      this.check(task);
      const output = await this.execute(task, this.progress(task, keepAlive));
      log.info({ ms: Date.now() - started }, 'task succeeded');
      return { status: TaskStatus.TASK_STATUS_SUCCEEDED, error: undefined, durationMs: Date.now() - started, output };
    } catch (error) {
      const code = error instanceof DeltachainError ? error.code : 'HOST_TASK_FAILED';
      const retryable = error instanceof DeltachainError ? error.retryable : true;
      log.warn({ code, err: error }, 'task failed');
      return { status: TaskStatus.TASK_STATUS_FAILED, error: { code, message: errorMessage(error), retryable, side: (error instanceof DeltachainError ? error.side : undefined) ?? '' }, durationMs: Date.now() - started, output: undefined };
    }
  }

  private check(task: Task): void {
    const target = task.target?.agent;
    if (target?.$case !== 'poolId' || target.value !== this.context.poolId) {
      throw new TaskRefusedError(`task ${task.taskId} is addressed to ${target ? `${target.$case} ${target.value}` : 'no one'}, not pool ${this.context.poolId}`);
    }
    const payload = task.payload;
    const expected = payload === undefined ? undefined : HOST_TASK_KINDS[payload.$case];
    if (expected === undefined) throw new TaskRefusedError(`task ${task.taskId}: a host agent runs backup, restore and release tasks, not ${payload?.$case ?? 'an empty one'}`);
    if (task.kind !== expected) throw new TaskRefusedError(`task ${task.taskId}: kind ${task.kind} does not match its ${payload!.$case} payload`);
    if (task.deadlineMs > 0 && Date.now() > task.deadlineMs) throw new TaskRefusedError(`task ${task.taskId}: its deadline passed before it started`);
  }

  private async execute(task: Task, onProgress: ProgressListener): Promise<TaskResult['output']> {
    const { xapi, storages, disksPerVm, logger } = this.context;
    const payload = task.payload!;
    if (payload.$case === 'backup') {
      const request = backupRequestFrom(task.taskId, payload.value, storages);
      const transferRetry = this.context.transferRetry;
      const outcome = await this.locks.run(request.vmUuid, () => backupVm({ xapi, disksPerVm, logger, onProgress, progressIntervalMs: 0, ...(transferRetry === undefined ? {} : { transferRetry }) }, request));
      return backupOutput(outcome);
    }
    if (payload.$case === 'restore') {
      const request = restoreRequestFrom(task.taskId, payload.value, storages);
      return restoreOutput(await restoreVm({ xapi, disksPerVm, logger, onProgress, progressIntervalMs: 0 }, request));
    }
    if (payload.$case === 'releaseReferences') {
      const request = releaseRequestFrom(task.taskId, payload.value);
      return releaseOutput(await releaseReferences({ xapi, logger, lockVm: (vm, operation) => this.locks.run(vm, operation) }, request));
    }
    throw new TaskRefusedError(`task ${task.taskId}: unsupported payload ${payload.$case}`);
  }

  /** Progress listener: extends the ack, publishes at most one event per interval (and each phase change). */
  private progress(task: Task, keepAlive: () => void): ProgressListener {
    let last = -Infinity;
    let lastPhase = '';
    return (report) => {
      const now = Date.now();
      if (report.phase === lastPhase && now - last < this.context.progressIntervalMs) return;
      keepAlive();
      last = now;
      lastPhase = report.phase;
      const body: EventBody = {
        $case: 'progress',
        value: {
          phase: report.phase,
          done: report.bytesDone,
          total: report.bytesTotal,
          unit: 'bytes',
          blocksDone: report.blocksDone,
          blocksTotal: report.blocksTotal,
          bytesPerSecond: report.rate,
          attempt: task.attempt,
        },
      };
      this.context.events.publish(task.taskId, body).catch((error: unknown) => this.log.warn({ err: error, taskId: task.taskId }, 'progress event not published'));
    };
  }
}
