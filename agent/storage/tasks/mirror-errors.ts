// The mirror task's errors. A failure names the whole copy — mirror, backup, VM, source and target
// remotes, and the disk when one was being copied — and keeps the code, retryability and side of
// what failed underneath (DATA_DAMAGED from the source, REMOTE_FULL here, a grant the source
// refused), so the coordinator classifies it as it would the cause.
import { status } from '@grpc/grpc-js';
import { DeltachainError, errorMessage } from '../../../shared/errors.js';
import { StorageError } from '../errors.js';

/** Where a mirror was when it failed, for the message. */
export interface MirrorSite {
  mirrorName: string;
  vmUuid: string;
  backupId: string;
  sourceRemoteId: string;
  targetRemoteId: string;
  diskKey?: string;
}

export class MirrorError extends DeltachainError {
  override name = 'MirrorError';

  constructor(site: MirrorSite, cause: unknown) {
    const known = cause instanceof DeltachainError ? cause : undefined;
    const mirror = site.mirrorName === '' ? 'mirror' : `mirror ${site.mirrorName}`;
    const disk = site.diskKey === undefined ? '' : `, disk ${site.diskKey}`;
    const where = `${mirror} of backup ${site.backupId} (VM ${site.vmUuid}) from remote ${site.sourceRemoteId} to remote ${site.targetRemoteId}${disk}`;
    super(known?.code ?? 'MIRROR_FAILED', `${where}: ${errorMessage(cause)}`, { cause, retryable: known?.retryable ?? true, side: known?.side ?? 'storage' });
  }
}

/**
 * The copy's chain digest (computed at the target's commit) is not the one the catalogue recorded
 * for the source backup: the copy is not that backup, and nothing was committed. Trying again
 * copies the same bytes.
 */
export class MirrorDigestMismatchError extends StorageError {
  override name = 'MirrorDigestMismatchError';
  constructor(message: string) {
    super('MIRROR_DIGEST_MISMATCH', status.FAILED_PRECONDITION, message, { retryable: false, side: 'data' });
  }
}
