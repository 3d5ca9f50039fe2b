// What a policy is: which VMs, to which remotes, when, and how much history to keep. The
// catalogue stores it; the scheduler fires it; the planner reads retention and full interval.

/** Which VMs a policy backs up: the union of VMs named by uuid, carrying a tag, or in a pool. */
export interface VmSelection {
  vmUuids: string[];
  tags: string[];
  pools: string[];
}

export interface PolicySchedule {
  /** A cron expression (5 fields, or 6 with seconds first), read by croner. */
  cron: string;
  /** IANA time zone the expression is read in, e.g. "Europe/Paris" or "UTC". */
  timeZone: string;
}

/** The fields an operator sets. */
export interface PolicySettings {
  name: string;
  selection: VmSelection;
  /** Remote names, at least one; each run writes every one of them. */
  remotes: string[];
  schedule: PolicySchedule;
  /** Backups kept per VM and remote. */
  retention: number;
  /**
   * Backups per chain: with 2 the runs go full, delta, full, delta…; 1 = always full;
   * 0 = never start a new chain on purpose (incremental forever).
   */
  fullInterval: number;
  /** VMs of one pool backed up at once by one run. */
  concurrency: number;
  /** After each backup, destroy the data of the reference's disks read over CBT and NBD (keep their CBT metadata). */
  purgeSnapshotData: boolean;
  enabled: boolean;
}

export interface Policy extends PolicySettings {
  id: string;
  createdAt: Date;
  updatedAt: Date;
}
