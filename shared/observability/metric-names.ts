// The names of Deltachain's own Prometheus metrics, in one place: the definitions, the tests,
// the alert examples in deploy/examples/README.md and docs/deploying.md refer to these. Units are in the
// names (Prometheus conventions: seconds, bytes, `_total` for counters).
export const METRIC = {
  /** 1 when the process is started and not stopping (gauge). */
  ready: 'deltachain_ready',
  /** Always 1; labels role and version (gauge). */
  buildInfo: 'deltachain_build_info',
  /** Tasks by kind and state: the catalogue's counts in the coordinator, running tasks in an agent (gauge). */
  tasks: 'deltachain_tasks',
  /** Tasks an agent finished, by kind and outcome: succeeded, failed, handed_back (counter). */
  tasksFinished: 'deltachain_tasks_finished_total',
  /** How long an agent's tasks ran, by kind (histogram, seconds). */
  taskDuration: 'deltachain_task_duration_seconds',
  /** Disk bytes moved between host and storage agents, by direction: backup, restore (counter). */
  bytesMoved: 'deltachain_bytes_moved_total',
  /** One disk's transfer, by operation (backup, restore) and mode (full, delta, restore) (histogram, seconds). */
  transferDuration: 'deltachain_transfer_duration_seconds',
  /** One merge task on a storage agent (histogram, seconds). */
  mergeDuration: 'deltachain_merge_duration_seconds',
  /** Backups a disk's chain holds on a remote, by remote, vm and disk (gauge). */
  chainLength: 'deltachain_chain_length',
  /** When the newest committed backup of a VM on a remote was taken (gauge, Unix seconds). */
  lastGoodBackupTimestamp: 'deltachain_last_good_backup_timestamp_seconds',
  /** Age of that backup at scrape time (gauge, seconds): what a "backups are late" alert watches. */
  lastGoodBackupAge: 'deltachain_last_good_backup_age_seconds',
  /** Collections of metrics from a source (the catalogue …) that failed, by source (counter). */
  refreshFailures: 'deltachain_metrics_refresh_failures_total',
  /** Lab pool: VMs and snapshots by kind (gauge). */
  labVms: 'deltachain_lab_vms',
  /** Lab pool: virtual size of all disks, by kind: disk, snapshot (gauge, bytes). */
  labDiskBytes: 'deltachain_lab_disk_bytes',
  /** Lab pool: physical_utilisation of snapshot VDIs holding data, by SR uuid (gauge, bytes). */
  labSnapshotDataBytes: 'deltachain_lab_snapshot_data_bytes',
} as const;

/** Buckets of transfer, merge and task durations, seconds: one second to a day. */
export const DURATION_BUCKETS_SECONDS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 28800, 86400];
