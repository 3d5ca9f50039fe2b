// Protobuf events (deltachain.tasks.v1.Event) → AgentEvent. Who sent an event and when are the
// envelope's — the subject the NATS server authorised and JetStream's timestamp — never the
// body's: a body whose kind or claims (a heartbeat's role and target, an inventory's pool)
// disagree with its subject is refused. Anything malformed is refused with a message naming the
// event and field; the consumer acknowledges and logs it (redelivering a malformed message
// would not make it well-formed).
import { Event, AgentRole, TaskStatus } from '../../shared/proto/gen/deltachain/tasks/v1/event.js';
import type { BackupSummary } from '../../shared/proto/gen/deltachain/storage/v1/backup.js';
import type { Heartbeat, InventoryEvent, TaskResult } from '../../shared/proto/gen/deltachain/tasks/v1/event.js';
import { InvalidInputError, failureSideOf } from '../../shared/errors.js';
import { describeSender, type EventKind, type EventSender } from '../../shared/nats/index.js';
import type { AgentHeartbeat, BackupFacts, InventoryReport } from '../catalogue/index.js';
import { CHECKSUM_SIZE } from '../../shared/grpc/disk-checksum.js';
import type { AgentEvent, TaskOutput } from './agent-event.js';
import { UUID_PATTERN } from '../../shared/ids.js';

const hex = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');

/** A remote's backup summary → catalogue facts (the remote is filled in by the caller). */
export function backupFactsFromSummary(summary: BackupSummary, remote: string): BackupFacts {
  return {
    id: summary.backupId,
    vmUuid: summary.vmUuid.toLowerCase(),
    remote,
    takenAt: new Date(summary.timestampMs),
    metadataPath: summary.metadataPath,
    disks: summary.disks.map((d) => ({
      diskKey: d.diskKey,
      file: d.path,
      sizeBytes: d.fileSize,
      virtualSize: d.virtualSize,
      footerUuid: d.footerUuid.toLowerCase(),
      parentFooterUuid: d.parentFooterUuid === '' ? null : d.parentFooterUuid.toLowerCase(),
      checksum: hex(d.digest),
      // Anything but a 32-byte digest is treated as absent: the backup is still recorded.
      chainDigest: d.chainDigest.length === CHECKSUM_SIZE ? hex(d.chainDigest) : '',
    })),
  };
}

/** A VM has at most 255 VBDs; what an agent says beyond that is not kept. */
const MAX_REPORTED_DISKS = 256;

/** Text from an agent, cut to what the catalogue keeps. */
function bounded(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function outputOf(result: TaskResult): TaskOutput | undefined {
  const output = result.output;
  switch (output?.$case) {
    case undefined:
      return undefined;
    case 'backup':
      return {
        kind: 'backup',
        backupId: output.value.backupId,
        snapshotUuid: output.value.snapshotUuid,
        bytesSent: output.value.bytesSent,
        reads: (output.value.report?.disks ?? []).slice(0, MAX_REPORTED_DISKS).map((d) => ({
          diskKey: bounded(d.diskKey, 64),
          mode: bounded(d.mode, 16),
          readMethod: bounded(d.readMethod, 16),
          fallbackReason: bounded(d.fallbackReason, 32),
          fallbackDetail: bounded(d.fallbackDetail, 500),
          bytesSent: d.bytesSent,
        })),
      };
    case 'merge':
      return {
        kind: 'merge',
        retiredBackupIds: output.value.retiredBackupIds,
        mergedDisks: output.value.disks.filter((d) => d.merged).length,
        resumed: output.value.disks.some((d) => d.resumed),
        diskSizes: output.value.disks.filter((d) => d.fileSize > 0).map((d) => ({ diskKey: d.diskKey, sizeBytes: d.fileSize })),
      };
    case 'delete':
      return { kind: 'delete', existed: output.value.existed, removedPaths: output.value.removedPaths, keptPaths: output.value.keptPaths };
    case 'scan':
      return {
        kind: 'scan',
        backups: output.value.backups.map((b) => backupFactsFromSummary(b, '')),
        garbage: output.value.garbage.length,
        resumedMerges: output.value.resumedMerges,
      };
    case 'verify': {
      const v = output.value;
      return {
        kind: 'verify', ok: v.ok, blocksChecked: v.blocksChecked, badBlocks: v.badBlocks.length, problems: v.problems,
        badBlockList: v.badBlocks.map((b) => ({ diskKey: b.diskKey, path: b.path, index: b.index, reason: b.reason })),
        damaged: v.damaged.map((d) => ({ backupId: d.backupId, diskKey: d.diskKey, file: d.path, blocks: d.blocks, reason: d.reason })),
      };
    }
    case 'restore': {
      const report = output.value.report;
      return {
        kind: 'restore', newVmUuid: output.value.newVmUuid, bytesReceived: output.value.bytesReceived,
        disks: (report?.disks ?? []).map((d) => ({ diskKey: d.diskKey, vdiUuid: d.vdiUuid, digestChecked: d.digestChecked })),
        warnings: report?.warnings ?? [],
        droppedFields: report?.droppedFields ?? [],
      };
    }
    case 'releaseReferences':
      return { kind: 'release', destroyedSnapshotUuids: output.value.destroyedSnapshotUuids, destroyedOrphanVdiUuids: output.value.destroyedOrphanVdiUuids };
    case 'mirror': {
      const m = output.value;
      return {
        kind: 'mirror',
        ...(m.backup ? { backup: backupFactsFromSummary(m.backup, '') } : {}),
        alreadyPresent: m.alreadyPresent,
        bytesReceived: m.bytesReceived,
        disks: m.disks.slice(0, MAX_REPORTED_DISKS).map((d) => ({ diskKey: bounded(d.diskKey, 64), mode: bounded(d.mode, 16), blockCount: d.blockCount, bytesReceived: d.bytesReceived })),
      };
    }
  }
}

/** An attempt number sent by the agent; absent or 0 (an older agent) means "the current one". */
const attemptOf = (attempt: number | undefined): { attempt?: number } => (attempt ? { attempt } : {});


/** Where an event came from: its subject's sender and kind, and when JetStream stored it. */
export interface EventEnvelope {
  sender: EventSender;
  kind: EventKind;
  at: Date;
}

/** An inventory report, checked: only a host agent reports, of its own pool; every VM and disk uuid a uuid. */
function inventoryOf(eventId: string, envelope: EventEnvelope, inventory: InventoryEvent): InventoryReport {
  const { sender, at } = envelope;
  const where = `inventory ${eventId} from ${describeSender(sender)}`;
  if (sender.role !== 'host') throw new InvalidInputError(`${where}: only host agents report inventory`);
  if (inventory.poolName !== sender.scope) throw new InvalidInputError(`${where}: it names pool ${JSON.stringify(inventory.poolName)}, not its own; ignored`);
  const vms = inventory.vms.map((vm, i) => {
    const uuid = vm.uuid.toLowerCase();
    if (!UUID_PATTERN.test(uuid)) throw new InvalidInputError(`${where}: vms[${i}].uuid ${JSON.stringify(vm.uuid)} is not a uuid`);
    return { uuid, nameLabel: vm.nameLabel, tags: vm.tags, powerState: vm.powerState, disks: vm.disks.map((d) => ({ vdiUuid: d.vdiUuid.toLowerCase(), virtualSize: d.virtualSize })) };
  });
  return { poolName: sender.scope, poolUuid: inventory.poolUuid, at, vms };
}

/** A heartbeat's claims must be its subject's; only what the agent alone knows is taken from it. */
function heartbeatOf(eventId: string, envelope: EventEnvelope, h: Heartbeat): AgentHeartbeat {
  const { sender, at } = envelope;
  const where = `heartbeat ${eventId} from ${describeSender(sender)}`;
  const role = h.role === AgentRole.AGENT_ROLE_HOST ? 'host' : h.role === AgentRole.AGENT_ROLE_STORAGE ? 'storage' : undefined;
  if (role !== sender.role) throw new InvalidInputError(`${where}: it claims role ${h.role}; ignored`);
  if (h.targetId !== sender.scope) throw new InvalidInputError(`${where}: it claims to serve ${JSON.stringify(h.targetId)}; ignored`);
  return {
    id: sender.agent, role: sender.role, target: sender.scope, version: h.version, address: sender.role === 'storage' ? h.address : '', runningTasks: h.runningTasks,
    concurrency: h.concurrency, startedAt: h.startedAtMs === 0 ? null : new Date(h.startedAtMs), at,
  };
}

export function decodeAgentEvent(data: Uint8Array, envelope: EventEnvelope): AgentEvent {
  let event: Event;
  try {
    event = Event.decode(data);
  } catch (cause) {
    throw new InvalidInputError(`an event from ${describeSender(envelope.sender)} is not a valid deltachain.tasks.v1.Event: ${(cause as Error).message}`, { cause });
  }
  const from = describeSender(envelope.sender);
  const base = { eventId: event.eventId, sender: envelope.sender, at: envelope.at };
  const body = event.body;
  if (body !== undefined && body.$case !== envelope.kind) throw new InvalidInputError(`event ${event.eventId} from ${from}: a ${body.$case} published as ${envelope.kind}; ignored`);
  const needTask = () => {
    if (event.taskId === '') throw new InvalidInputError(`event ${event.eventId} from ${from}: task_id is empty`);
    return event.taskId.toLowerCase();
  };
  switch (body?.$case) {
    case 'heartbeat':
      return { ...base, type: 'heartbeat', heartbeat: heartbeatOf(event.eventId, envelope, body.value) };
    case 'started':
      return { ...base, type: 'started', taskId: needTask(), attempt: body.value.attempt };
    case 'progress':
      return { ...base, type: 'progress', taskId: needTask(), done: body.value.done, total: body.value.total, phase: body.value.phase, unit: body.value.unit, ...attemptOf(body.value.attempt) };
    case 'result': {
      const r = body.value;
      if (r.status === TaskStatus.TASK_STATUS_SUCCEEDED) return { ...base, type: 'result', taskId: needTask(), ok: true, output: outputOf(r), durationMs: r.durationMs, ...attemptOf(r.attempt) };
      const side = failureSideOf(r.error?.side);
      const error = { code: r.error?.code || 'AGENT_FAILED', message: r.error?.message || 'the agent reported a failure without a message', retryable: r.error?.retryable ?? false, ...(side === undefined ? {} : { side }) };
      return { ...base, type: 'result', taskId: needTask(), ok: false, error, durationMs: r.durationMs, ...attemptOf(r.attempt) };
    }
    case 'inventory':
      return { ...base, type: 'inventory', inventory: inventoryOf(event.eventId, envelope, body.value) };
    case 'refused':
      return {
        ...base, type: 'refused', claimedTaskId: event.taskId, reason: body.value.reason.slice(0, 2000), subject: body.value.subject.slice(0, 300),
        code: body.value.code.slice(0, 40), attempt: body.value.attempt, leaderTerm: body.value.leaderTerm,
      };
    default:
      throw new InvalidInputError(`event ${event.eventId} from ${from} has no body`);
  }
}
