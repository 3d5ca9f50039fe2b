// The restore task in domain terms, what it needs from a remote, and what it reports.
import type { ChecksumRule } from '../../../shared/grpc/disk-checksum.js';
import type { Readable } from 'node:stream';
import type { StoredBackup } from '../metadata/parse-stored-backup.js';

/** What a restore reads from a remote: a backup's metadata and each disk as one VHD stream. */
export interface BackupSource {
  remoteId: string;
  getBackup(vmUuid: string, backupId: string): Promise<StoredBackup>;
  /** The disk's whole chain folded into one dynamic VHD stream of known length. */
  getDiskVhd(vmUuid: string, backupId: string, diskKey: string): Promise<{ length: number; stream: Readable; checksumRule?: ChecksumRule }>;
}

export interface RestoreRequest {
  taskId: string;
  /** The backed-up VM's uuid (it may no longer exist anywhere). */
  vmUuid: string;
  backupId: string;
  source: BackupSource;
  /** The SR of this pool that receives the disks. */
  srUuid: string;
  /** Name of the new VM; default "<original name> (restored <date>)". */
  nameLabel?: string;
  /**
   * Disk key → the chain digest the restored disk must have (32 bytes, recorded in the catalogue
   * when the backup was committed). A disk without one is restored unchecked here, with a warning.
   */
  expectedChainDigests?: ReadonlyMap<string, Uint8Array>;
  /** Keep the stored record's boot-path and passthrough fields (boot-config-filter.ts); default false. */
  keepBootConfig?: boolean;
}

export interface RestoredDisk {
  diskKey: string;
  vdiUuid: string;
  bytes: number;
  durationMs: number;
  /** True when the disk was checked against its expected chain digest before the import completed. */
  digestChecked: boolean;
}

export interface RestoreOutcome {
  taskId: string;
  vmUuid: string;
  backupId: string;
  newVmUuid: string;
  newVmName: string;
  disks: RestoredDisk[];
  /** VIFs and the network each was put on (or why not). */
  networks: Array<{ device: string; network: string | undefined; how: string }>;
  bytesReceived: number;
  durationMs: number;
  warnings: string[];
  /** Fields of the stored record the new VM did not get ("PV_args", "other_config:pci", …). */
  droppedFields?: string[];
  /** True when this report comes from an earlier delivery of the same task. */
  redelivered: boolean;
}
