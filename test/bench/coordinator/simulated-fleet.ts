// Simulated host agents for the coordinator bench: one per pool, each with its own durable
// consumer on the real JetStream task queue (shared/nats task consumer, as agent/host uses), its
// own heartbeat and its own inventory report. VMs are registered the way a real deployment
// registers them: each agent publishes an inventory event listing its pool's VMs, and the
// coordinator's event consumer writes them to the catalogue.
//
// Every backup task is answered without moving data: "started", then a successful result naming
// a new reference snapshot, after the backup's summary was put on the simulated remote (one disk
// per VM; full sizes 1–8 GiB, deltas 1–5 % of that; a delta's parent is the base VDI the task
// named), which the coordinator then confirms over gRPC with the simulated storage agent.
import { randomBytes, randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { createLogger } from '../../../shared/logging/index.js';
import { publishEvent, startTaskConsumer, type EventBody, type NatsNames, type TaskConsumer, type TaskOutcome } from '../../../shared/nats/index.js';
import { AgentRole, TaskStatus } from '../../../shared/proto/gen/deltachain/tasks/v1/event.js';
import { BackupResult } from '../../../shared/proto/gen/deltachain/tasks/v1/host_tasks.js';
import { Task } from '../../../shared/proto/gen/deltachain/tasks/v1/task.js';
import type { SimulatedRemote } from './simulated-storage.js';

const GIB = 1024 ** 3;
const DISK_KEY = 'xvda';
export const BENCH_TAG = 'bench';

export interface SimulatedVm {
  uuid: string;
  name: string;
  vdiUuid: string;
  virtualSize: number;
}

export interface FleetCounters {
  /** Backup tasks answered with a success. */
  answered: number;
  /** Tasks of another kind, failed as unsupported. */
  refused: number;
  /** Deliveries of a task id already answered (redeliveries). */
  redelivered: number;
}

export class SimulatedHostAgent {
  readonly agentId: string;
  private consumer: TaskConsumer | undefined;
  private readonly answered = new Set<string>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly names: NatsNames,
    readonly pool: string,
    readonly vms: SimulatedVm[],
    private readonly remote: SimulatedRemote,
    private readonly counters: FleetCounters,
    private readonly concurrency: number,
  ) {
    this.agentId = `host-${pool}`;
  }

  async start(): Promise<void> {
    this.consumer = await startTaskConsumer({
      nc: this.nc,
      names: this.names,
      role: 'host',
      scope: this.pool,
      concurrency: this.concurrency,
      pullExpiresMs: 5000,
      handler: (delivery) => this.handle(Task.decode(delivery.data)),
      logger: createLogger({ level: 'silent' }),
    });
    await this.event('', {
      $case: 'heartbeat',
      value: { role: AgentRole.AGENT_ROLE_HOST, targetId: this.pool, runningTasks: 0, concurrency: this.concurrency, version: 'bench', startedAtMs: Date.now(), address: '' },
    });
  }

  /** Publishes the pool's inventory (what a host agent reports every interval). */
  async reportInventory(): Promise<void> {
    await this.event('', {
      $case: 'inventory',
      value: {
        poolName: this.pool,
        poolUuid: '',
        vms: this.vms.map((vm) => ({ uuid: vm.uuid, nameLabel: vm.name, tags: [BENCH_TAG], powerState: 'Running', disks: [{ vdiUuid: vm.vdiUuid, virtualSize: vm.virtualSize }] })),
      },
    });
  }

  async stop(): Promise<void> {
    await this.consumer?.stop({ graceMs: 1000 });
  }

  private event(taskId: string, body: EventBody): Promise<unknown> {
    return publishEvent(this.nc, this.names, { role: 'host', scope: this.pool, agent: this.agentId }, taskId, body);
  }

  private async handle(task: Task): Promise<TaskOutcome> {
    if (this.answered.has(task.taskId)) this.counters.redelivered++;
    if (task.payload?.$case !== 'backup') {
      this.counters.refused++;
      await this.event(task.taskId, { $case: 'result', value: { status: TaskStatus.TASK_STATUS_FAILED, error: { code: 'UNSUPPORTED', message: `simulated host agent: ${task.payload?.$case}`, retryable: false, side: '' }, durationMs: 0, attempt: task.attempt } });
      return 'ack';
    }
    const started = Date.now();
    await this.event(task.taskId, { $case: 'started', value: { attempt: task.attempt, delivery: 1 } });
    const backup = task.payload.value;
    const vm = this.vms.find((v) => v.uuid === backup.vmUuid);
    if (!vm) {
      await this.event(task.taskId, { $case: 'result', value: { status: TaskStatus.TASK_STATUS_FAILED, error: { code: 'VM_NOT_FOUND', message: `no VM ${backup.vmUuid} in pool ${this.pool}`, retryable: false, side: '' }, durationMs: 0, attempt: task.attempt } });
      return 'ack';
    }
    const base = backup.baseSnapshotVdiByDisk[DISK_KEY] ?? '';
    const previous = this.remote.newest(vm.uuid);
    const parent = previous?.disks.find((d) => d.footerUuid === base);
    const fileSize = parent ? Math.round(vm.virtualSize * (0.01 + Math.random() * 0.04)) : vm.virtualSize;
    const footerUuid = randomUUID();
    this.remote.add({
      backupId: backup.backupId,
      vmUuid: vm.uuid,
      timestampMs: started,
      metadataPath: `vms/${vm.uuid}/${backup.backupId}/backup.json`,
      disks: [{ diskKey: DISK_KEY, path: `vms/${vm.uuid}/${backup.backupId}/${DISK_KEY}.vhd`, fileSize, virtualSize: vm.virtualSize, footerUuid, parentFooterUuid: parent ? base : '', chainPosition: parent ? parent.chainPosition + 1 : 0, digest: randomBytes(32), chainDigest: Buffer.alloc(0) }],
    });
    const result = BackupResult.create({ backupId: backup.backupId, snapshotUuid: randomUUID(), bytesSent: fileSize });
    await this.event(task.taskId, { $case: 'result', value: { status: TaskStatus.TASK_STATUS_SUCCEEDED, durationMs: Date.now() - started, attempt: task.attempt, output: { $case: 'backup', value: result } } });
    this.answered.add(task.taskId);
    this.counters.answered++;
    return 'ack';
  }
}

/** `vms` VMs spread evenly over `agents` pools named pool-000, pool-001, … */
export function fleetVms(vms: number, agents: number): Map<string, SimulatedVm[]> {
  const pools = new Map<string, SimulatedVm[]>();
  for (let a = 0; a < agents; a++) pools.set(`pool-${String(a).padStart(3, '0')}`, []);
  const names = [...pools.keys()];
  for (let i = 0; i < vms; i++) {
    const virtualSize = (1 + Math.floor(Math.random() * 8)) * GIB;
    pools.get(names[i % agents]!)!.push({ uuid: randomUUID(), name: `vm-${i}`, vdiUuid: randomUUID(), virtualSize });
  }
  return pools;
}
