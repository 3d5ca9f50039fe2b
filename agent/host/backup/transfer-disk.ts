// One disk of a backup, tried again within the task attempt when trying again can help: the disk
// is exported anew from the same snapshot, and each remote's upload resumes after the last block
// the remote kept of the broken try (a storage agent keeps a broken upload's temporary for a while,
// parked-uploads.ts; one that restarted has none and the upload starts over). A remote never
// holds half a disk as a backup: until the trailer's digest check, it is only a temporary. Two causes are
// worth it, each with a jittered, growing delay and at most `tries` tries:
//   * the export stream broke (a cut connection, the pool stopping mid-stream);
//   * a storage agent went away or dropped the upload (killed, restarting, a reset connection):
//     first wait — bounded by `storageWaitMs` — until it answers again.
// Anything else (a refusal, a full remote, a malformed export) fails at once. What is still
// failing after the last try leaves with its own retryable flag, so the coordinator can retry the
// task later.
import { setTimeout as sleep } from 'node:timers/promises';
import { status } from '@grpc/grpc-js';
import { backoffDelay } from '../xapi/retry-with-backoff.js';
import type { DiskExportPlan } from '../plan/plan-disk-exports.js';
import { StorageCallError } from '../remote/storage-call-error.js';
import type { DiskOutcome } from './backup-types.js';
import type { SnapshotDisk } from './backup-types.js';
import { exportDisk, type ExportDiskContext } from './export-disk.js';
import { ExportInterruptedError } from './export-interrupted-error.js';
import { waitForStorage } from './wait-for-storage.js';

export interface TransferRetryOptions {
  /** Tries of one disk within a task attempt, the first included (1 = no retry). */
  tries: number;
  /** Delay cap before the first retry, ms; doubles each retry (full jitter). */
  baseDelayMs: number;
  /** Largest delay between tries, ms. */
  maxDelayMs: number;
  /** Longest wait for a storage agent that went away to answer again, ms. */
  storageWaitMs: number;
}

export const DEFAULT_TRANSFER_RETRY: Readonly<TransferRetryOptions> = Object.freeze({ tries: 3, baseDelayMs: 2000, maxDelayMs: 30_000, storageWaitMs: 120_000 });

export interface TransferDiskContext extends ExportDiskContext {
  retry: TransferRetryOptions;
}

type NextStep = 'send-again' | 'wait-for-storage' | 'give-up';

/** Pure: what to do after a failed try. */
export function nextStep(error: unknown): NextStep {
  if (error instanceof ExportInterruptedError) return 'send-again';
  if (!(error instanceof StorageCallError) || !error.retryable || error.rpc !== 'PutDisk') return 'give-up';
  return error.grpcCode === status.DATA_LOSS ? 'send-again' : 'wait-for-storage';
}

/** `resume`: the first try also takes up what the remotes kept of a broken one (a disk sent again without a remote that failed). */
export async function transferDisk(context: TransferDiskContext, disk: SnapshotDisk, plan: DiskExportPlan, resume = false): Promise<DiskOutcome> {
  const { retry, logger } = context;
  for (let attempt = 1; ; attempt++) {
    try {
      return await exportDisk(context, disk, plan, resume || attempt > 1);
    } catch (error) {
      const step = nextStep(error);
      if (step === 'give-up' || attempt >= retry.tries) throw error;
      const delayMs = backoffDelay(attempt - 1, retry);
      const { code, side, message } = error as StorageCallError | ExportInterruptedError;
      logger.warn({ disk: disk.diskKey, try: attempt, of: retry.tries, delayMs, code, side, reason: message }, 'disk transfer interrupted; sending the disk again');
      await sleep(delayMs);
      if (step === 'wait-for-storage') {
        const failed = error as StorageCallError;
        const target = context.targets.find((t) => t.remoteId === failed.remoteId);
        if (target !== undefined) await waitForStorage(target.storage, context.vmUuid, retry.storageWaitMs, logger, failed);
      }
    }
  }
}
