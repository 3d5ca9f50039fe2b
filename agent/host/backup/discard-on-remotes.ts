// Asks every remote of a backup to discard what uploads of it left (DiscardBackup): before an
// attempt sends anything (what a killed earlier attempt of the same task left) and after an
// attempt fails. Best effort: a remote that refuses (the backup is committed there) or does not
// answer is logged, never fails the backup — its storage agent removes leftovers when it starts,
// and a scan finds what is left. The storage agent runs a discard and a commit of one VM one
// after the other, so once the discard answered, an earlier attempt's commit has either landed or
// never will: backup-vm.ts discards before it looks for an earlier delivery's commit.
import { errorMessage } from '../../../shared/errors.js';
import { StorageCallError } from '../remote/storage-call-error.js';
import type { Logger } from '../../../shared/logging/index.js';
import type { BackupTarget } from './backup-types.js';

/** `keepParked`: a resumed run keeps the broken uploads it takes up (the rest of the leftovers go). */
export async function discardOnRemotes(targets: readonly BackupTarget[], vmUuid: string, logger: Logger, when: 'before sending' | 'after a failure', options: { keepParked?: boolean } = {}): Promise<void> {
  await Promise.all(
    targets.map(async (target) => {
      try {
        const removed = await target.storage.discardBackup(vmUuid, target.backupId, options);
        if (removed.length > 0) logger.info({ remote: target.remoteId, backupId: target.backupId, removed, when }, 'leftovers of the backup removed from the remote');
      } catch (error) {
        if (isCommittedRefusal(error)) logger.info({ remote: target.remoteId, backupId: target.backupId, when }, 'the backup is committed on the remote; nothing to discard');
        else logger.warn({ remote: target.remoteId, backupId: target.backupId, when, reason: errorMessage(error) }, 'could not discard the backup on the remote');
      }
    }),
  );
}

function isCommittedRefusal(error: unknown): boolean {
  return error instanceof StorageCallError && error.rpc === 'DiscardBackup' && error.grpcStatus === 'FAILED_PRECONDITION';
}
