// A restore that fails on the data itself: what it read is not what was backed up. Neither is
// retried (reading the same damaged file again gives the same answer) and both name the backup
// and the disk in the same words, `backup <id> …, disk <key>:`, which the coordinator reads to
// mark that disk of the backup damaged.
import { DeltachainError } from '../../../shared/errors.js';
import { digestHex } from '../../../shared/grpc/disk-checksum.js';

export interface RestoredDiskName {
  vmUuid: string;
  backupId: string;
  diskKey: string;
  remoteId: string;
}

const whose = (d: RestoredDiskName) => `backup ${d.backupId} of VM ${d.vmUuid} on remote ${d.remoteId}, disk ${d.diskKey}`;
const next = (d: RestoredDiskName) =>
  `run \`deltachain verify --backup ${d.backupId}\` to find and mark the damaged file, and restore an earlier date that does not depend on it; once marked, the next backup of this disk is a full`;

/** The disk arrived whole but is not the disk that was backed up: its chain digest differs. */
export class RestoreDigestMismatchError extends DeltachainError {
  override name = 'RestoreDigestMismatchError';
  constructor(disk: RestoredDiskName, expected: Uint8Array, actual: Uint8Array) {
    super(
      'RESTORE_DIGEST_MISMATCH',
      `${whose(disk)}: the data read from the remote does not match the chain digest recorded when the backup was committed ` +
        `(expected ${digestHex(expected)}, got ${digestHex(actual)}); the import was stopped before it completed and nothing of this restore was kept. ` +
        `The stored data is damaged (or the storage agent read it wrong): ${next(disk)}.`,
      { retryable: false, side: 'data' },
    );
  }
}

/** The storage agent found the stored data damaged while reading it (GetDisk DATA_LOSS). */
export class RestoreDataDamagedError extends DeltachainError {
  override name = 'RestoreDataDamagedError';
  constructor(disk: RestoredDiskName, cause: Error) {
    super('DATA_DAMAGED', `${whose(disk)}: ${cause.message}; nothing of this restore was kept. Next: ${next(disk)}.`, { cause, retryable: false, side: 'data' });
  }
}

/** The stream is not the one dynamic VHD a storage agent sends for a restore (a storage agent fault). */
export class RestoreStreamInvalidError extends DeltachainError {
  override name = 'RestoreStreamInvalidError';
  constructor(disk: RestoredDiskName, cause: unknown) {
    super(
      'RESTORE_STREAM_INVALID',
      `${whose(disk)}: the storage agent's VHD stream cannot be checked: ${cause instanceof Error ? cause.message : String(cause)}; nothing of this restore was kept. Check that the storage agent runs the same version as this host agent, and its log.`,
      { cause, retryable: false, side: 'storage' },
    );
  }
}
