// Runs the tasks addressed to this remote (deltachain.tasks.v1.Task: merge, verify, delete, scan,
// mirror) on the shared skeleton (shared/nats/task-runner.ts), which reports them as events; this
// module adds what is the storage agent's own: the remote it serves, its payloads, the chain lock a
// verify shares, `progress` in blocks, and a failure that is a full remote named as such. Every
// handler is idempotent (see each task module), so a redelivered task is simply run again; two
// deliveries of one backup's mirror never run at once here (the second fails as busy, retryable),
// since each clears what an earlier attempt left of the backup.
import { AgentTaskRunner, type EventSink, type TaskAcceptance, type TaskOutput } from '../../shared/nats/index.js';
import { encodeSignedGrant } from '../../shared/grants/index.js';
import type { MirrorResult, MirrorTask } from '../../shared/proto/gen/deltachain/tasks/v1/storage_tasks.js';
import { TaskKind, type Task } from '../../shared/proto/gen/deltachain/tasks/v1/task.js';
import { StorageBusyError, StorageRequestError } from './errors.js';
import type { RemoteContext } from './remote-context.js';
import { asRemoteFull } from './remote-full.js';
import { toProtoSummary } from './proto-mapping.js';
import type { SourceCredentials } from './source-remote.js';
import { runDeleteTask } from './tasks/delete-task.js';
import { runMergeTask } from './tasks/merge-task.js';
import { runMirrorTask, type MirrorInput, type MirrorOutcome } from './tasks/mirror-task.js';
import type { BandwidthLimits } from '../../shared/bandwidth.js';
import { runScanTask } from './tasks/scan-task.js';
import { runVerifyTask } from './tasks/verify-task.js';

export interface StorageTaskRunnerOptions {
  /** Minimum time between two progress events of one task, ms. */
  progressIntervalMs?: number;
  /** Merge checkpoint interval in blocks (VHD merge option). */
  mergeCheckpointBlocks?: number;
  /** How a mirror reaches a source's storage agent (its certificate checked for `storage:<source>`); absent: mirror tasks fail. */
  sourceCredentials?: SourceCredentials;
  /** Bandwidth limits of mirror pulls (config storage.mirrorBandwidth); absent: as fast as the source serves. */
  mirrorLimits?: BandwidthLimits;
}

type Progress = (done: number, total: number) => void;

const STORAGE_TASK_KINDS: TaskAcceptance['kinds'] = {
  merge: TaskKind.TASK_KIND_MERGE,
  verify: TaskKind.TASK_KIND_VERIFY,
  delete: TaskKind.TASK_KIND_DELETE,
  scan: TaskKind.TASK_KIND_SCAN,
  mirror: TaskKind.TASK_KIND_MIRROR,
};

export class StorageTaskRunner extends AgentTaskRunner {
  readonly #ctx: RemoteContext;
  readonly #options: StorageTaskRunnerOptions;
  /** `<vm>/<backup>` of the mirrors running. */
  readonly #mirrors = new Set<string>();
  protected readonly failureCode = 'STORAGE_TASK_FAILED';

  constructor(ctx: RemoteContext, events: EventSink, options: StorageTaskRunnerOptions = {}) {
    super(events, ctx.logger, 'storage-tasks');
    this.#ctx = ctx;
    this.#options = options;
  }

  protected acceptance(): TaskAcceptance {
    return { target: 'remoteId', id: this.#ctx.remoteId, kinds: STORAGE_TASK_KINDS, runs: 'a storage agent runs merge, verify, delete, scan and mirror tasks' };
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
      case 'mirror':
        return { $case: 'mirror', value: await this.#mirror(payload.value, progress) };
      default:
        throw new StorageRequestError(`task ${task.taskId}: unsupported payload ${payload.$case}`);
    }
  }

  async #mirror(task: MirrorTask, progress: Progress): Promise<MirrorResult> {
    const key = `${task.vmUuid}/${task.backupId}`;
    if (this.#mirrors.has(key)) throw new StorageBusyError(`backup ${task.backupId} of VM ${task.vmUuid} is being mirrored to remote ${this.#ctx.remoteId} by another delivery; try again once it has ended`);
    this.#mirrors.add(key);
    try {
      const outcome = await runMirrorTask(this.#ctx, mirrorInputOf(task), { credentials: this.#options.sourceCredentials, onProgress: progress, take: this.#options.mirrorLimits?.forRemote(task.sourceRemoteId) });
      return mirrorResultOf(outcome);
    } finally {
      this.#mirrors.delete(key);
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

function mirrorInputOf(task: MirrorTask): MirrorInput {
  return {
    vmUuid: task.vmUuid,
    backupId: task.backupId,
    sourceRemoteId: task.sourceRemoteId,
    sourceAddress: task.sourceAddress,
    readGrant: task.readGrant === undefined ? undefined : encodeSignedGrant(task.readGrant),
    disks: task.disks.map((d) => ({ diskKey: d.diskKey, footerUuid: d.footerUuid, chainDigest: d.chainDigest })),
    mirrorName: task.mirrorName,
  };
}

/** The task's result as the coordinator reads it (TaskResult.output mirror). */
export function mirrorResultOf(outcome: MirrorOutcome): MirrorResult {
  return { backup: toProtoSummary(outcome.backup), disks: outcome.disks, alreadyPresent: outcome.alreadyPresent, bytesReceived: outcome.bytesReceived };
}
