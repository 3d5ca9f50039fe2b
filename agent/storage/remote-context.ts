// What every storage operation needs: where the remote is, its locks, the live uploads, a
// logger and the clock. Built once by the storage agent and passed down (no globals).
import type { ChainTermCache } from './chain-terms.js';
import type { Logger } from '../../shared/logging/index.js';
import type { ActiveUploads } from './active-uploads.js';
import type { RemoteLayout } from './remote-layout.js';
import type { RemoteLocks } from './remote-locks.js';
import type { UploadLimits } from './upload-limits.js';
import type { AlignedBufferPool } from '../../shared/vhd/direct-io.js';

export interface RemoteContext {
  remoteId: string;
  layout: RemoteLayout;
  locks: RemoteLocks;
  uploads: ActiveUploads;
  logger: Logger;
  now: () => Date;
  /** Bounds on uploads (storage.limits); DEFAULT_UPLOAD_LIMITS when absent. */
  limits?: UploadLimits;
  /** Blocks a restore's GetDisk reads ahead (storage.restoreReadAheadBlocks); GET_DISK_READ_AHEAD when absent. */
  restoreReadAhead?: number;
  /** Aligned buffers downloads reuse from one to the next (serve-disk.ts restoreBufferPool); absent: each download makes its own. */
  restoreBuffers?: AlignedBufferPool;
  /** The newest committed dates' chain digest terms, so a commit digests only its own file (chain-terms.ts); absent: every commit digests the whole chain. */
  chainTerms?: ChainTermCache;
}
