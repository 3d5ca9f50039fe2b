// Building a backup's report: from what this run did, or — for a redelivered task whose backup
// is already committed — from what the first delivery stored on the snapshot, or failing that
// from what the remotes list (sizes and modes are known there; durations are not).
import type { BackupSummary } from '../../../shared/proto/gen/deltachain/storage/v1/backup.js';
import type { BackupOutcome, DiskOutcome } from './backup-types.js';

export function parseStoredOutcome(json: string | undefined): BackupOutcome | undefined {
  if (json === undefined) return undefined;
  try {
    const parsed = JSON.parse(json) as BackupOutcome;
    return typeof parsed === 'object' && parsed !== null && Array.isArray(parsed.disks) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

export interface ListedBackup {
  remoteId: string;
  summary: BackupSummary;
}

/** A report rebuilt from the remotes' listings of the committed backup. */
export function outcomeFromListing(taskId: string, vmUuid: string, snapshotUuid: string, listed: readonly ListedBackup[]): BackupOutcome {
  const first = listed[0]!.summary;
  const disks: DiskOutcome[] = first.disks.map((disk) => ({
    diskKey: disk.diskKey,
    vdiUuid: disk.diskKey,
    snapshotVdiUuid: disk.footerUuid,
    mode: disk.parentFooterUuid === '' ? 'full' : 'delta',
    ...(disk.parentFooterUuid === '' ? {} : { baseVdiUuid: disk.parentFooterUuid }),
    virtualSize: disk.virtualSize,
    blocks: 0,
    bytesSent: 0,
    durationMs: 0,
    remotes: listed.map(({ remoteId, summary }) => {
      const same = summary.disks.find((d) => d.diskKey === disk.diskKey);
      return { remoteId, path: same?.path ?? '', fileSize: same?.fileSize ?? 0 };
    }),
  }));
  return {
    taskId,
    vmUuid,
    vmName: '',
    timestamp: new Date(first.timestampMs).toISOString(),
    backups: listed.map(({ remoteId, summary }) => ({ remoteId, backupId: summary.backupId })),
    snapshotUuid,
    disks,
    skippedDisks: [],
    removedSnapshots: [],
    bytesSent: 0,
    durationMs: 0,
    redelivered: true,
    warnings: ['reported from the remotes: the first delivery committed this backup but its report was lost'],
  };
}
