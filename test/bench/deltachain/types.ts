// The data-plane harness's public types: how to start a Deltachain stack (lab pool, storage agent,
// host agent — each a real process) and what each measured operation returns. Sizes in bytes,
// times in seconds, memory in MiB.

export type DiskContent = 'random' | 'mixed';
export type ProcessName = 'hostAgent' | 'storageAgent' | 'labPool';

export interface DeltachainStackOptions {
  /** A folder of the caller's; the stack creates `lab/`, `remote/` and `config/` in it and removes them on close. */
  folder: string;
  /** Virtual size of the lab disk. */
  diskBytes: number;
  /** Share of the disk holding data at start, percent. */
  fill: number;
  /** Content of the disk at start (and of writes by default); `mixed` only once the lab supports it. */
  content: DiskContent;
  /** Seed of the lab's disk content. */
  seed: number;
  /** How the host agent finds a delta's changed blocks at start (default `vhd-export`); `useChangedBlocks` switches. The lab pool serves NBD either way. */
  changedBlocks?: ChangedBlocks;
  log?: (s: string) => void;
}

export type ChangedBlocks = 'cbt' | 'vhd-export';

export interface DcBackupMeasure {
  /** From task publish to the result event. */
  wallSec: number;
  /** Host agent + storage agent. */
  cpuSec: number;
  /** hostAgent, storageAgent, labPool. */
  cpuByProcess: Record<string, number>;
  /** full | delta. */
  mode: string;
  blocks: number;
  /** Bytes the lab pool process read (its /proc rchar) while serving the export. */
  bytesReadFromSource: number;
  bytesSent: number;
  /** Growth of the remote folder's allocated size. */
  bytesAdded: number;
  backupId: string;
  /** How the host agent read the disk (`cbt-nbd`, `vhd-export`) and, if it fell back from CBT, why. */
  readMethod: string;
  fallbackReason: string;
}

export interface DcRestoreMeasure {
  wallSec: number;
  /** Host agent + storage agent. */
  cpuSec: number;
  cpuByProcess: Record<string, number>;
  /** Bytes the host agent received from the storage agent. */
  bytes: number;
  /** Restored VDI digest == the lab digest of the backup's snapshot VDI. */
  digestMatches: boolean;
  chainDepth: number;
}

export interface WriteOptions {
  /** clustered | scattered | sequential | clustered-64k (when the lab has it). */
  pattern: string;
  percent: number;
  seed: number;
  content?: DiskContent;
}

export interface DeltachainStack {
  vdiUuid: string;
  vmUuid: string;
  lab: { url: string; user: string; password: string };
  pids: Record<ProcessName, number>;
  /** The storage agent's remote (its root folder) and gRPC address (plain, no TLS). */
  storage: { remoteRoot: string; address: string };
  /** The disk content really used at start (`random` when `mixed` was asked but the lab lacks it). */
  content: DiskContent;
  /** A guest write on the lab disk (POST /lab/write). */
  write(o: WriteOptions): Promise<{ bytes: number; blocks: number }>;
  /** A new chain: full backup (no base). */
  fullBackup(): Promise<DcBackupMeasure>;
  /** A delta on the newest chain's newest backup (its snapshot as base). */
  incrementalBackup(): Promise<DcBackupMeasure>;
  /** Restarts the host agent configured with `backup.changedBlocks: method`. */
  useChangedBlocks(method: ChangedBlocks): Promise<void>;
  /** Bytes the pool's SRs spend on snapshot data: physical_utilisation of snapshot VDIs that are not cbt_metadata. */
  snapshotDataBytes(): Promise<number>;
  /** Restores the newest backup into a new VM on the lab pool, checks its digest, removes it. */
  restoreNewest(): Promise<DcRestoreMeasure>;
  /** Backups in the newest chain (full + deltas). */
  chainDepth(): number;
  /** Removes every chain but the newest from the remote (storage agent delete tasks). */
  dropOlderChains(): Promise<void>;
  /** VmHWM of each process (MiB) since start or the last resetPeaks. */
  peakRss(): Promise<Record<string, number>>;
  resetPeaks(): Promise<void>;
  close(): Promise<void>;
}
