// Runs the tasks addressed to this remote (deltachain.tasks.v1.Task: merge, verify, delete, scan)
// on the shared skeleton (shared/nats/task-runner.ts), which reports them as events; this module adds
// what is the storage agent's own: the remote it serves, its payloads, the chain lock a verify
// shares, `progress` in blocks, and a failure that is a full remote named as such. Every handler is
// idempotent (see each task module), so a redelivered task is simply run again.
import { AgentTaskRunner, type EventSink, type TaskAcceptance, type TaskOutput } from '../../shared/nats/index.js';
import { TaskKind, type Task } from '../../shared/proto/gen/deltachain/tasks/v1/task.js';
import { StorageRequestError } from './errors.js';
import type { RemoteContext } from './remote-context.js';
import { asRemoteFull } from './remote-full.js';
import { toProtoSummary } from './proto-mapping.js';
import { runDeleteTask } from './tasks/delete-task.js';
import { runMergeTask } from './tasks/merge-task.js';
import { runScanTask } from './tasks/scan-task.js';
import { runVerifyTask } from './tasks/verify-task.js';

export interface StorageTaskRunnerOptions {
  /** Minimum time between two progress events of one task, ms. */
  progressIntervalMs?: number;
  /** Merge checkpoint interval in blocks (VHD merge option). */
  mergeCheckpointBlocks?: number;
}

type Progress = (done: number, total: number) => void;

const STORAGE_TASK_KINDS: TaskAcceptance['kinds'] = {
  merge: TaskKind.TASK_KIND_MERGE,
  verify: TaskKind.TASK_KIND_VERIFY,
  delete: TaskKind.TASK_KIND_DELETE,
  scan: TaskKind.TASK_KIND_SCAN,
};

export class StorageTaskRunner extends AgentTaskRunner {
  readonly #ctx: RemoteContext;
  readonly #options: StorageTaskRunnerOptions;
  protected readonly failureCode = 'STORAGE_TASK_FAILED';

  constructor(ctx: RemoteContext, events: EventSink, options: StorageTaskRunnerOptions = {}) {
    super(events, ctx.logger, 'storage-tasks');
    this.#ctx = ctx;
    this.#options = options;
  }

  protected acceptance(): TaskAcceptance {
    return { target: 'remoteId', id: this.#ctx.remoteId, kinds: STORAGE_TASK_KINDS, runs: 'a storage agent runs merge, verify, delete and scan tasks' };
  }

  protected refusal(message: string): Error {
    return new StorageRequestError(message);
  }

  protected override explain(task: Task, error: unknown): Promise<unknown> {
    return asRemoteFull(this.#ctx, error, `the ${task.payload?.$case ?? 'storage'} task`);
  }

  protected execute(task: Task, keepAlive: () => void): Promise<TaskOutput> {
    return this.#locked(task, () => this.#execute(task, this.#progress(task, keepAlive)));
  }

  async #execute(task: Task, progress: Progress): Promise<TaskOutput> {
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
  #locked(task: Task, run: () => Promise<TaskOutput>): Promise<TaskOutput> {
    const payload = task.payload;
    return payload?.$case === 'verify' ? this.#ctx.locks.chains.read(payload.value.vmUuid, run) : run();
  }

  /** Progress in blocks: at most one event per interval, and always the last one (done = total). */
  #progress(task: Task, keepAlive: () => void): Progress {
    const phase = task.payload?.$case ?? 'task';
    const publish = this.progressPublisher(task, keepAlive, this.#options.progressIntervalMs ?? 1000);
    return (done, total) => publish({ phase, done, total, unit: 'blocks' }, done >= total);
  }
}
