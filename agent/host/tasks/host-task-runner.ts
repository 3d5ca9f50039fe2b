// Runs the tasks addressed to this pool (deltachain.tasks.v1.Task: backup, restore, release of
// reference snapshots) on the shared skeleton (shared/nats/task-runner.ts), which reports them as
// events; this module adds what is the host agent's own: the pool it serves, its payloads, a VM's
// lock, and `progress` events that carry bytes, blocks and the rate. The handlers are idempotent:
// a redelivered backup whose backup is committed reports the first result (backup-vm.ts), a
// redelivered restore finds the VM it made (restore-vm.ts), a release finds nothing more to destroy
// (release-references.ts); a backup and a release of one VM never overlap in this agent (VmLocks).
import { DeltachainError, failureSideOf } from '../../../shared/errors.js';
import type { Logger } from '../../../shared/logging/index.js';
import { AgentTaskRunner, type Companion, type EventSink, type TaskAcceptance, type TaskOutput } from '../../../shared/nats/index.js';
import { TaskKind, type Task } from '../../../shared/proto/gen/deltachain/tasks/v1/task.js';
import { TaskStatus, type TaskResult } from '../../../shared/proto/gen/deltachain/tasks/v1/event.js';
import type { BackupOutcome } from '../backup/backup-types.js';
import { backupVm } from '../backup/backup-vm.js';
import type { TransferRetryOptions } from '../backup/transfer-disk.js';
import type { ProgressListener } from '../backup/transfer-progress.js';
import { releaseReferences } from '../release/release-references.js';
import { restoreVm } from '../restore/restore-vm.js';
import type { HostXapi } from '../xapi/host-xapi.js';
import type { RemoteStorages } from './remote-storages.js';
import { backupOutput, backupRequestFrom, releaseOutput, releaseRequestFrom, restoreOutput, restoreRequestFrom } from './translate-task.js';
import type { ChangedBlocksMethod, NbdReadOptions } from '../backup/open-source.js';
import { VmLocks } from './vm-locks.js';

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
  /** How deltas find changed blocks, and the NBD reads of the CBT path (config `backup`, `nbd`). */
  changedBlocks: ChangedBlocksMethod;
  nbd: NbdReadOptions;
}

const HOST_TASK_KINDS: TaskAcceptance['kinds'] = {
  backup: TaskKind.TASK_KIND_BACKUP,
  restore: TaskKind.TASK_KIND_RESTORE,
  releaseReferences: TaskKind.TASK_KIND_RELEASE_REFERENCES,
};

/**
 * A task this host agent does not run (another pool's, a payload or kind it does not know, a passed
 * deadline): a FAILED result with code TASK_REFUSED. Not task-trust's TaskRefusedError, which stops
 * a message before it runs (bad signature, replay, expiry) with a `refused` event instead of a result.
 */
export class HostTaskRefusedError extends DeltachainError {
  override name = 'HostTaskRefusedError';
  constructor(message: string) {
    super('TASK_REFUSED', message, { side: 'request' });
  }
}

/** A remote's failure within a backup that others took, as its task's error. */
function targetFailure(f: NonNullable<BackupOutcome['failedTargets']>[number]): DeltachainError {
  const side = failureSideOf(f.side);
  return new DeltachainError(f.code, f.message, { retryable: f.retryable, ...(side === undefined ? {} : { side }) });
}

export class HostTaskRunner extends AgentTaskRunner {
  private readonly locks = new VmLocks();
  protected readonly failureCode = 'HOST_TASK_FAILED';
  /** A backup's outcome, until its companions' results are made from it. */
  private readonly outcomes = new Map<string, BackupOutcome>();

  constructor(private readonly context: HostTaskContext) {
    super(context.events, context.logger, 'host-tasks');
  }

  protected acceptance(): TaskAcceptance {
    return { target: 'poolId', id: this.context.poolId, kinds: HOST_TASK_KINDS, runs: 'a host agent runs backup, restore and release tasks' };
  }

  protected refusal(message: string): Error {
    return new HostTaskRefusedError(message);
  }

  protected override logFields(task: Task): Record<string, unknown> {
    return { vm: (task.payload?.value as { vmUuid?: string } | undefined)?.vmUuid };
  }

  protected async execute(task: Task, keepAlive: () => void): Promise<TaskOutput> {
    const { xapi, storages, disksPerVm, logger } = this.context;
    const onProgress = this.progress(task, keepAlive);
    const payload = task.payload!;
    if (payload.$case === 'backup') {
      const request = backupRequestFrom(task.taskId, payload.value, storages);
      const { transferRetry, changedBlocks, nbd } = this.context;
      const context = { xapi, disksPerVm, logger, onProgress, progressIntervalMs: 0, changedBlocks, nbd, ...(transferRetry === undefined ? {} : { transferRetry }) };
      const outcome = await this.locks.run(request.vmUuid, () => backupVm(context, request));
      this.outcomes.set(task.taskId, outcome);
      // This task's remote failed while the others took the backup: this task fails, theirs succeed.
      const mine = outcome.failedTargets?.find((f) => f.remoteId === request.targets[0]!.remoteId);
      if (mine !== undefined) throw targetFailure(mine);
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
    throw new HostTaskRefusedError(`task ${task.taskId}: unsupported payload ${payload.$case}`);
  }

  /** The other remotes' backup tasks of a backup to several remotes (one export, many remotes). */
  protected override companions(task: Task): Companion[] {
    if (task.payload?.$case !== 'backup') return [];
    return task.payload.value.moreTargets.map((t) => ({ taskId: t.taskId, attempt: t.attempt, name: t.remoteId }));
  }

  /** A companion's result: its remote's backup and disks, or the same failure. */
  protected override companionResult(task: Task, companion: Companion, result: TaskResult): TaskResult {
    const outcome = this.outcomes.get(task.taskId);
    const remoteId = companion.name;
    if (outcome === undefined || remoteId === undefined) return result;
    const failed = outcome.failedTargets?.find((f) => f.remoteId === remoteId);
    if (failed !== undefined) return { status: TaskStatus.TASK_STATUS_FAILED, error: { code: failed.code, message: failed.message, retryable: failed.retryable, side: failed.side }, durationMs: result.durationMs, output: undefined };
    if (!outcome.backups.some((b) => b.remoteId === remoteId)) return result;
    return { status: TaskStatus.TASK_STATUS_SUCCEEDED, error: undefined, durationMs: result.durationMs, output: backupOutput(outcome, remoteId) };
  }

  protected override finished(task: Task): void {
    this.outcomes.delete(task.taskId);
  }

  /** Transfer progress as events: at most one per interval, and one at each change of phase. */
  private progress(task: Task, keepAlive: () => void): ProgressListener {
    const publish = this.progressPublisher(task, keepAlive, this.context.progressIntervalMs);
    let lastPhase = '';
    return (report) => {
      const phaseChanged = report.phase !== lastPhase;
      lastPhase = report.phase;
      publish(
        {
          phase: report.phase,
          done: report.bytesDone,
          total: report.bytesTotal,
          unit: 'bytes',
          blocksDone: report.blocksDone,
          blocksTotal: report.blocksTotal,
          bytesPerSecond: report.rate,
        },
        phaseChanged,
      );
    };
  }
}
