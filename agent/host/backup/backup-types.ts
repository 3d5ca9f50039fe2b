// The backup task in domain terms (translated from the NATS envelope at the edge) and what it
// reports. One task backs up one VM to one or more remotes from a single snapshot, with one export
// per disk for each distinct set of bases among the remotes (blocks fan out to every remote's
// PutDisk) — one export in all when the remotes' chains agree, as they do after a run together.
import type { FullReason } from '../plan/plan-disk-exports.js';
import type { RemoteStorage } from '../remote/remote-storage.js';
import type { StorageCallError } from '../remote/storage-call-error.js';
import type { XapiRef } from '../xapi/xapi-records.js';

export interface BackupTarget {
  remoteId: string;
  /** The backup id on that remote (the coordinator's choice). */
  backupId: string;
  storage: RemoteStorage;
  /** The catalogue task of this remote and its attempt, when it is not the request's own (one export, many remotes). */
  taskId?: string;
  attempt?: number;
  /** This remote's bases (per disk key); absent: the request's. */
  bases?: ReadonlyMap<string, string>;
}

export interface BackupRequest {
  taskId: string;
  policyId: string;
  /** The policy as JSON, stored verbatim in the backup's metadata. */
  policyJson: string;
  vmUuid: string;
  targets: BackupTarget[];
  /** Per disk key (live VDI uuid): the base snapshot VDI uuid of a delta; absent = full. */
  bases: ReadonlyMap<string, string>;
  /** After the commit, destroy the data of the new reference's disks read over CBT and NBD (VDI.data_destroy). Absent: keep it. */
  purgeSnapshotData?: boolean;
  /** Every remote the policy writes to: previous references kept for none of them but these targets go after the commit. Absent: only the reference of exactly these targets' remote set is replaced. */
  policyRemotes?: readonly string[];
}

/** How a disk's blocks were found and read. */
export type ReadMethod = 'cbt-nbd' | 'vhd-export';

/** Why the CBT path could not serve a disk (the agent is configured for it). */
export type CbtFallbackReason = 'cbt-off' | 'cbt-lost' | 'cbt-invalid' | 'base-purged' | 'moved-sr' | 'nbd-unavailable' | 'nbd-refused';

export interface DiskOutcome {
  diskKey: string;
  /** The live VDI (= disk key) and the snapshot VDI exported (= VHD footer uuid). */
  vdiUuid: string;
  snapshotVdiUuid: string;
  mode: 'full' | 'delta';
  baseVdiUuid?: string;
  /** Why a full was exported when a delta was asked for (or `requested`). */
  fullReason?: FullReason;
  detail?: string;
  /** Absent in a report rebuilt from listings. */
  readMethod?: ReadMethod;
  /** Set when the agent is configured for CBT and this disk went another way. */
  fallbackReason?: CbtFallbackReason;
  fallbackDetail?: string;
  virtualSize: number;
  /** The disk digest (`sha256:<hex>`) of the blocks streamed, computed while streaming; absent in a report rebuilt from listings. */
  digest?: string;
  blocks: number;
  /** Block bytes (bitmaps + data) sent to each remote of its export. */
  bytesSent: number;
  durationMs: number;
  remotes: Array<{ remoteId: string; path: string; fileSize: number }>;
  /** Remotes that refused this disk for good and were dropped from its export (the others took it); never stored in a report. */
  dropped?: StorageCallError[];
}

export interface BackupOutcome {
  taskId: string;
  vmUuid: string;
  vmName: string;
  /** When the snapshot was taken (ISO-8601). */
  timestamp: string;
  backups: Array<{ remoteId: string; backupId: string }>;
  /** Per remote, its disks (they differ between remotes exported against different bases); absent in older reports: `disks` for all. */
  targetDisks?: Record<string, DiskOutcome[]>;
  /** Remotes left out after their storage agent failed during the export (the others took the backup): each one's error, for its task. */
  failedTargets?: Array<{ remoteId: string; code: string; message: string; retryable: boolean; side: string }>;
  /** The snapshot kept as the new reference. */
  snapshotUuid: string;
  disks: DiskOutcome[];
  skippedDisks: Array<{ diskKey: string; reason: string }>;
  /** Snapshots removed (leftovers, the previous reference) and why. */
  removedSnapshots: Array<{ uuid: string; reason: string }>;
  bytesSent: number;
  durationMs: number;
  /** True when this report comes from an earlier delivery of the same task. */
  redelivered: boolean;
  /** Things that went wrong without failing the backup (e.g. an old snapshot not removed). */
  warnings: string[];
}

/** A disk of the backup's snapshot, as the host agent reads it. */
export interface SnapshotDisk {
  diskKey: string;
  snapshotVdiRef: XapiRef;
  snapshotVdiUuid: string;
  virtualSize: number;
}
