// What the coordinator learns about a committed backup — from a backup task's result or from a
// remote scan — in catalogue terms (the wire types are translated at the edge).

export interface DiskFacts {
  diskKey: string;
  /** The VHD, relative to the remote's root. */
  file: string;
  sizeBytes: number;
  virtualSize: number;
  /** VHD footer uuid: the snapshot VDI it was exported from. */
  footerUuid: string;
  /** The parent disk's footer uuid for a delta; null for a full. */
  parentFooterUuid: string | null;
  /** Hex digest of the disk's blocks. */
  checksum: string;
  /**
   * Hex chain digest: what a restore of this backup's disk must produce (the storage agent's,
   * at commit); '' or absent when the storage agent did not send one.
   */
  chainDigest?: string;
}

export interface BackupFacts {
  id: string;
  vmUuid: string;
  vmName?: string;
  remote: string;
  takenAt: Date;
  metadataPath: string;
  taskId?: string | null;
  runId?: string | null;
  policyId?: string | null;
  disks: DiskFacts[];
}
