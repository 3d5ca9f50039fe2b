// Step 5 of a backup: every remote commits (CommitBackup: the metadata file, the commit point),
// one after the other. A failed commit is classified by what it means for the backup:
//   * NOT_FOUND — the remote no longer holds a disk this attempt sent: its storage agent restarted
//     between the upload and the commit and removed the uncommitted upload (remove-leftovers.ts).
//     Sending the disks again fixes it (DisksLostError, retryable; backup-vm.ts does it once);
//   * no answer (a deadline, the storage agent unavailable) — the commit may or may not have
//     happened (CommitUnconfirmedError, retryable): the new snapshot is kept so that the next
//     attempt, finding the backup committed, makes it the reference instead of starting over;
//   * anything else is the storage agent's refusal, reported as it is — or, when the caller lets
//     that remote go (`leaveOut`: other remotes remain), only that remote's: the others still
//     commit (failure isolation of one export, many remotes).
// CommitBackup is idempotent for the same backup id and disks, so a retried commit is harmless.
import { status } from '@grpc/grpc-js';
import { DeltachainError } from '../../../shared/errors.js';
import type { Logger } from '../../../shared/logging/index.js';
import type { SentDisk } from '../../../shared/proto/gen/deltachain/storage/v1/storage.js';
import { StorageCallError } from '../remote/storage-call-error.js';
import type { BackupTarget, DiskOutcome } from './backup-types.js';

export class DisksLostError extends DeltachainError {
  override name = 'DisksLostError';
  /** The targets that have not committed (the failed one and those after it). */
  readonly remaining: BackupTarget[];
  /** The targets that committed before it. */
  readonly committed: BackupTarget[];
  constructor(target: BackupTarget, remaining: BackupTarget[], cause: StorageCallError, committed: BackupTarget[] = []) {
    super(
      'BACKUP_DISKS_LOST',
      `remote ${target.remoteId} no longer holds the disks of backup ${target.backupId} sent by this attempt (${cause.message}); its storage agent probably restarted and removed the uncommitted upload — the disks are sent again`,
      { cause, retryable: true, side: 'storage' },
    );
    this.remaining = remaining;
    this.committed = committed;
  }
}

export class CommitUnconfirmedError extends DeltachainError {
  override name = 'CommitUnconfirmedError';
  constructor(target: BackupTarget, cause: StorageCallError) {
    super(
      'COMMIT_UNCONFIRMED',
      `${cause.message}; the commit of backup ${target.backupId} may still happen — the next attempt finds out, and keeps this run's snapshot as the reference if it did`,
      { cause, retryable: true, side: cause.side ?? 'storage' },
    );
  }
}

export interface CommitFields {
  vmUuid: string;
  timestampMs: number;
  recordsJson: string;
  policyJson: string;
}

/** What was streamed of a disk, for the storage agent to check the received file against. */
function sentDisk(disk: DiskOutcome): SentDisk {
  if (disk.digest === undefined) throw new DeltachainError('BACKUP_DIGEST_MISSING', `disk ${disk.diskKey}: no digest of the streamed blocks to commit with`);
  return { diskKey: disk.diskKey, footerUuid: disk.snapshotVdiUuid, virtualSize: disk.virtualSize, digest: Buffer.from(disk.digest.replace(/^sha256:/, ''), 'hex') };
}

/**
 * `disksOf`: what each remote was sent (remotes exported against different bases were sent
 * different disks). `leaveOut(target, refusal)`: true when the backup may go on without a remote
 * that refused its commit. Returns the targets that committed, in order.
 */
export async function commitToRemotes(targets: readonly BackupTarget[], fields: CommitFields, disksOf: (target: BackupTarget) => readonly DiskOutcome[], logger: Logger, leaveOut: (target: BackupTarget, refusal: StorageCallError) => boolean = () => false): Promise<BackupTarget[]> {
  const committed: BackupTarget[] = [];
  for (const [i, target] of targets.entries()) {
    const disks = disksOf(target);
    try {
      await target.storage.commitBackup({
        backupId: target.backupId,
        vmUuid: fields.vmUuid,
        timestampMs: fields.timestampMs,
        diskKeys: disks.map((d) => d.diskKey),
        recordsJson: fields.recordsJson,
        policyJson: fields.policyJson,
        diskSources: disks.map((d) => ({ diskKey: d.diskKey, vdiUuid: d.vdiUuid, snapshotVdiUuid: d.snapshotVdiUuid })),
        sentDisks: disks.map(sentDisk),
      });
    } catch (error) {
      if (!(error instanceof StorageCallError)) throw error;
      if (error.grpcCode === status.NOT_FOUND) throw new DisksLostError(target, targets.slice(i), error, committed);
      if (error.retryable) throw new CommitUnconfirmedError(target, error);
      if (!leaveOut(target, error)) throw error;
      continue;
    }
    committed.push(target);
  }
  logger.info({ remotes: committed.map((t) => t.remoteId) }, 'backup committed');
  return committed;
}
