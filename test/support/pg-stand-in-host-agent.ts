// A stand-in for a pool's host agent, for the coordinator's end-to-end tests: it pulls backup
// tasks from the real JetStream queue (shared/nats task consumer), pushes disks to the real
// storage agent named in the task (PutDisk, CommitBackup over gRPC) and publishes real events.
// What it does not do is talk to XAPI: its VMs are in memory (disks of a few blocks the test
// writes to), and each backup's "snapshot" is a copy of them; a release of reference snapshots is
// recorded (`releases`) and succeeds with nothing destroyed. The real host agent (agent/host)
// is tested against the lab pool on its own; this keeps the coordinator's tests about the
// coordinator. It behaves as the host agent must: a backup task delivered again whose backup is
// committed reports the same result and writes nothing. It calls storage agents with the pool's
// host certificate and sends each task's grant, as the real host agent does.
import { randomBytes, randomUUID } from 'node:crypto';
import type { ChannelCredentials } from '@grpc/grpc-js';
import { encodeSignedGrant } from '../../shared/grants/index.js';
import type { NatsConnection } from '@nats-io/transport-node';
import { StorageClient, type OutgoingBlock } from '../../shared/grpc/storage-client.js';
import { publishEvent, startTaskConsumer, type NatsNames, type TaskConsumer, type TaskOutcome } from '../../shared/nats/index.js';
import { AgentRole, TaskStatus } from '../../shared/proto/gen/deltachain/tasks/v1/event.js';
import { Task } from '../../shared/proto/gen/deltachain/tasks/v1/task.js';
import { BackupResult, type BackupTask, type ReleaseReferencesTask } from '../../shared/proto/gen/deltachain/tasks/v1/host_tasks.js';
import { createLogger } from '../../shared/logging/index.js';

export const BLOCK = 2 * 1024 * 1024;
export const BLOCKS = 4;

export interface StandInVm {
  uuid: string;
  name: string;
  /** Disk key → contents (BLOCKS blocks). */
  disks: Map<string, Buffer>;
  /** Disk key → the live VDI's uuid. */
  vdis: Map<string, string>;
}

export class StandInHostAgent {
  readonly vms = new Map<string, StandInVm>();
  /** Snapshot VDI uuid → the disk contents it froze. */
  private readonly snapshots = new Map<string, Buffer>();
  /** Task id → deliveries handled. */
  readonly deliveries = new Map<string, number>();
  /** Task ids whose result was published. */
  readonly reported: string[] = [];
  /** Release tasks received, in order. */
  readonly releases: ReleaseReferencesTask[] = [];
  /** Backup id → the snapshot kept by the delivery that committed it (reported again on redelivery). */
  private readonly kept = new Map<string, string>();
  private gate: Promise<void> | undefined;
  private consumer: TaskConsumer | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly names: NatsNames,
    readonly pool: string,
    /** TLS towards storage agents, with this pool's host certificate. */
    private readonly credentials: ChannelCredentials,
    readonly agentId = `host-${pool}`,
  ) {}

  addVm(uuid: string, name: string, diskKeys: string[]): void {
    this.vms.set(uuid, { uuid, name, disks: new Map(diskKeys.map((k) => [k, randomBytes(BLOCK * BLOCKS)])), vdis: new Map(diskKeys.map((k) => [k, randomUUID()])) });
  }

  /** New data in one block of a disk (what `lab write` does to a real VDI). */
  write(vmUuid: string, diskKey: string, block: number): void {
    randomBytes(BLOCK).copy(this.vms.get(vmUuid)!.disks.get(diskKey)!, block * BLOCK);
  }

  /** Holds backups after "started" until the returned function is called. */
  hold(): () => void {
    let release!: () => void;
    this.gate = new Promise((resolve) => (release = resolve));
    return () => {
      this.gate = undefined;
      release();
    };
  }

  async start(): Promise<void> {
    // The queue is the coordinator's to make (when the test adds the pool): looked for often.
    this.consumer = startTaskConsumer({
      nc: this.nc,
      names: this.names,
      role: 'host',
      scope: this.pool,
      concurrency: 4,
      registrationPollMs: 200,
      handler: (delivery) => this.handle(Task.decode(delivery.data)),
      logger: createLogger({ level: 'silent' }),
    });
    await this.event('', { $case: 'heartbeat', value: { role: AgentRole.AGENT_ROLE_HOST, targetId: this.pool, runningTasks: 0, concurrency: 4, version: 'stand-in', startedAtMs: Date.now(), address: '' } });
  }

  async stop(): Promise<void> {
    await this.consumer?.stop();
  }

  private event(taskId: string, body: Parameters<typeof publishEvent>[4]): Promise<unknown> {
    return publishEvent(this.nc, this.names, { role: 'host', scope: this.pool, agent: this.agentId }, taskId, body);
  }

  private async handle(task: Task): Promise<TaskOutcome> {
    this.deliveries.set(task.taskId, (this.deliveries.get(task.taskId) ?? 0) + 1);
    if (task.payload?.$case === 'releaseReferences') {
      this.releases.push(task.payload.value);
      await this.event(task.taskId, { $case: 'result', value: { status: TaskStatus.TASK_STATUS_SUCCEEDED, durationMs: 0, output: { $case: 'releaseReferences', value: { destroyedSnapshotUuids: [], destroyedOrphanVdiUuids: [] } } } });
      return 'ack';
    }
    if (task.payload?.$case !== 'backup') {
      await this.fail(task, 'UNSUPPORTED', `the stand-in host agent runs backups only, not ${task.payload?.$case}`);
      return 'ack';
    }
    // A run's backups of one VM to several remotes come as one message (more_targets): each is
    // its own task, reported with its own events. The stand-in backs each up on its own.
    const primary = task.payload.value;
    const jobs = [
      { taskId: task.taskId, attempt: task.attempt, backup: primary },
      ...primary.moreTargets.map((t) => ({
        taskId: t.taskId,
        attempt: t.attempt,
        backup: { ...primary, backupId: t.backupId, remoteId: t.remoteId, storageAddress: t.storageAddress, baseSnapshotVdiByDisk: t.baseSnapshotVdiByDisk, writeGrant: t.writeGrant, moreTargets: [] },
      })),
    ];
    for (const job of jobs.slice(1)) this.deliveries.set(job.taskId, (this.deliveries.get(job.taskId) ?? 0) + 1);
    for (const job of jobs) await this.event(job.taskId, { $case: 'started', value: { attempt: job.attempt, delivery: this.deliveries.get(job.taskId)! } });
    await this.gate;
    for (const job of jobs) {
      const started = Date.now();
      try {
        const result = await this.backup(job.backup);
        await this.event(job.taskId, { $case: 'result', value: { status: TaskStatus.TASK_STATUS_SUCCEEDED, durationMs: Date.now() - started, attempt: job.attempt, output: { $case: 'backup', value: BackupResult.create(result) } } });
        this.reported.push(job.taskId);
      } catch (error) {
        await this.event(job.taskId, { $case: 'result', value: { status: TaskStatus.TASK_STATUS_FAILED, attempt: job.attempt, error: { code: 'STAND_IN_FAILED', message: (error as Error).message, retryable: false, side: '' }, durationMs: 0 } });
      }
    }
    return 'ack';
  }

  private fail(task: Task, code: string, message: string): Promise<unknown> {
    return this.event(task.taskId, { $case: 'result', value: { status: TaskStatus.TASK_STATUS_FAILED, error: { code, message, retryable: false, side: '' }, durationMs: 0 } });
  }

  private async backup(task: BackupTask): Promise<{ backupId: string; snapshotUuid: string; bytesSent: number }> {
    const vm = this.vms.get(task.vmUuid);
    if (!vm) throw new Error(`no VM ${task.vmUuid} in pool ${this.pool}`);
    const storage = new StorageClient(task.storageAddress, this.credentials);
    const auth = { grant: task.writeGrant && encodeSignedGrant(task.writeGrant) };
    try {
      const committed = (await storage.listBackups(task.vmUuid, auth)).find((b) => b.backupId === task.backupId);
      if (committed) return { backupId: task.backupId, snapshotUuid: this.kept.get(task.backupId) ?? '', bytesSent: 0 };
      const snapshotUuid = randomUUID();
      this.kept.set(task.backupId, snapshotUuid);
      const timestampMs = Date.now();
      let bytesSent = 0;
      const sources = [];
      for (const [diskKey, contents] of vm.disks) {
        const footerUuid = randomUUID();
        const frozen = Buffer.from(contents);
        this.snapshots.set(footerUuid, frozen);
        const base = task.baseSnapshotVdiByDisk[diskKey];
        const parent = base !== undefined && this.snapshots.has(base) ? base : '';
        const blocks = changedBlocks(frozen, parent === '' ? undefined : this.snapshots.get(parent));
        bytesSent += blocks.length * BLOCK;
        await storage.putDisk({ backupId: task.backupId, vmUuid: vm.uuid, diskKey, virtualSize: BLOCK * BLOCKS, blockSize: BLOCK, footerUuid, parentFooterUuid: parent, timestampMs }, blocks, auth);
        sources.push({ diskKey, vdiUuid: vm.vdis.get(diskKey)!, snapshotVdiUuid: footerUuid });
      }
      await storage.commitBackup({
        backupId: task.backupId, vmUuid: vm.uuid, timestampMs, diskKeys: [...vm.disks.keys()],
        recordsJson: JSON.stringify({ vm: { name_label: vm.name }, vmSnapshot: {}, vbds: [], vdis: [], vifs: [] }),
        policyJson: task.policyJson, diskSources: sources,
      }, auth);
      return { backupId: task.backupId, snapshotUuid, bytesSent };
    } finally {
      storage.close();
    }
  }
}

function changedBlocks(now: Buffer, base: Buffer | undefined): OutgoingBlock[] {
  const out: OutgoingBlock[] = [];
  for (let i = 0; i < BLOCKS; i++) {
    const data = now.subarray(i * BLOCK, (i + 1) * BLOCK);
    if (!base || !data.equals(base.subarray(i * BLOCK, (i + 1) * BLOCK))) out.push({ index: i, data });
  }
  return out;
}
