// Events from agents in the coordinator's terms (wire-events.ts translates the protobuf). An
// event may arrive twice or late; every consumer of these is idempotent. `attempt` on progress
// and results is the attempt that sent them (absent from older agents: the current attempt).
// `sender` is the subject's (the NATS server let only that agent publish there) and `at` the
// time JetStream stored the event: neither is the body's word.
import type { AgentHeartbeat, BackupFacts, DamageFinding, InventoryReport } from '../catalogue/index.js';
import type { TaskFailure } from '../lifecycle/index.js';
import type { EventSender } from '../../shared/nats/index.js';

export type TaskOutput =
  | { kind: 'backup'; backupId: string; snapshotUuid: string; bytesSent: number; reads?: BackupDiskRead[]; backup?: BackupFacts }
  | { kind: 'merge'; retiredBackupIds: string[]; mergedDisks: number; resumed: boolean; diskSizes: MergedDiskSize[] }
  | { kind: 'delete'; existed: boolean; removedPaths: string[]; keptPaths: string[] }
  | { kind: 'scan'; backups: BackupFacts[]; garbage: number; resumedMerges: string[] }
  | {
      kind: 'verify';
      ok: boolean;
      blocksChecked: number;
      badBlocks: number;
      problems: string[];
      badBlockList: { diskKey: string; path: string; index: number; reason: string }[];
      /** Backups the storage agent found damaged (the verified one and those depending on its files). */
      damaged: DamageFinding[];
    }
  | {
      kind: 'restore';
      newVmUuid: string;
      bytesReceived: number;
      /** Each restored disk, and whether the host agent checked it against its chain digest. */
      disks?: { diskKey: string; vdiUuid: string; digestChecked: boolean }[];
      warnings?: string[];
      /** Fields of the stored VM record the restored VM did not get (boot path, passthrough). */
      droppedFields?: string[];
    }
  | { kind: 'release'; destroyedSnapshotUuids: string[]; destroyedOrphanVdiUuids?: string[] }
  | { kind: 'mirror'; backup?: BackupFacts; alreadyPresent: boolean; bytesReceived: number; disks: MirroredDiskReport[] };

/** How one disk of a mirror copy travelled: the backup's own delta, or the whole disk of that date. */
export interface MirroredDiskReport {
  diskKey: string;
  mode: string;
  blockCount: number;
  bytesReceived: number;
}

/** A merged file's size on the remote after a merge (disks whose agent did not say are absent). */
export interface MergedDiskSize {
  diskKey: string;
  sizeBytes: number;
}

interface EventBase {
  eventId: string;
  sender: EventSender;
  /** When JetStream stored it. */
  at: Date;
}

export type AgentEvent =
  | (EventBase & { type: 'heartbeat'; heartbeat: AgentHeartbeat })
  | (EventBase & { type: 'inventory'; inventory: InventoryReport })
  /** An agent refused a task message (shared/task-trust); the claimed id, attempt and term prove nothing. */
  | (EventBase & { type: 'refused'; claimedTaskId: string; reason: string; subject: string; code: string; attempt: number; leaderTerm: number })
  | (EventBase & { type: 'started'; taskId: string; attempt: number })
  | (EventBase & { type: 'progress'; taskId: string; done: number; total: number; phase: string; unit: string; attempt?: number })
  | (EventBase & { type: 'result'; taskId: string; ok: true; output: TaskOutput | undefined; durationMs: number; attempt?: number })
  | (EventBase & { type: 'result'; taskId: string; ok: false; error: TaskFailure; durationMs: number; attempt?: number });

/** The events about one task (started, progress, result). */
export type TaskAgentEvent = Exclude<AgentEvent, { type: 'heartbeat' | 'inventory' | 'refused' }>;

/** True for the events about one task (their task id is the task they change). */
export function isTaskEvent(event: AgentEvent): event is TaskAgentEvent {
  return event.type !== 'heartbeat' && event.type !== 'inventory' && event.type !== 'refused';
}

/** How the host agent read one disk of a backup, as its result said (shown by `run show`). */
export interface BackupDiskRead {
  diskKey: string;
  mode: string;
  readMethod: string;
  fallbackReason: string;
  fallbackDetail: string;
  bytesSent: number;
}
