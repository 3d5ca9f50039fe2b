// One disk of a backup, one try: open its source — NBD reads of the extents CBT or allocation
// name, or XAPI's VHD export (open-source.ts decides, and says why when CBT cannot serve) — and
// forward each block to every remote's PutDisk — no temporary file, at most one block plus each
// upload's bounded in-flight window in memory. Each upload encodes a block into its own buffers
// (disk-upload.ts). Any failure after the source opened aborts every upload of the disk, so
// nothing becomes visible remotely, and is blamed on the side that failed first: a storage agent
// that refused or went away (XAPI then reports our cancel as VDI_IO_ERROR: not the pool's fault),
// or the source breaking (ExportInterruptedError, with XAPI's verdict). transfer-disk.ts decides
// whether to try again. One exception, with several remotes: a remote whose storage agent refuses
// for good (not retryable: full, a refusal) is dropped from this disk's export and the others go
// on — the disk is read once for them — and the outcome names it (`dropped`); backup-vm.ts leaves
// that remote out of the backup.
import { digestHex } from '../../../shared/grpc/disk-checksum.js';
import { byteLength } from '../../../shared/grpc/packed-block.js';
import type { Logger } from '../../../shared/logging/index.js';
import type { DiskExportPlan } from '../plan/plan-disk-exports.js';
import { uploadChecksum, type DiskUpload, type PutDiskResult } from '../remote/disk-upload.js';
import { StorageCallError } from '../remote/storage-call-error.js';
import type { HostXapi } from '../xapi/host-xapi.js';
import type { BackupTarget, DiskOutcome, SnapshotDisk } from './backup-types.js';
import type { BlockSource } from './block-source.js';
import { openSource, type ChangedBlocksMethod, type Fallback, type NbdReadOptions } from './open-source.js';
import type { TransferProgress } from './transfer-progress.js';

export interface ExportDiskContext {
  xapi: HostXapi;
  vmUuid: string;
  targets: readonly BackupTarget[];
  /** VHD timestamp of the disks (the snapshot time), ms since the epoch. */
  timestampMs: number;
  progress: TransferProgress;
  logger: Logger;
  /** How a delta finds what changed (host agent config `backup.changedBlocks`). */
  changedBlocks: ChangedBlocksMethod;
  nbd: NbdReadOptions;
}

/** `resume`: a try after a broken one — each remote's upload takes up what the remote kept of it (upload-resume.ts). */
export async function exportDisk(context: ExportDiskContext, disk: SnapshotDisk, initialPlan: DiskExportPlan, resume = false): Promise<DiskOutcome> {
  const startedAt = Date.now();
  const { plan, source, fallback } = await openSource(context, disk, initialPlan);
  const uploads: DiskUpload[] = [];
  const expected = source.expected;
  const moved = { blocks: 0, bytes: 0 };
  try {
    context.progress.expect(expected.blocks, expected.bytes);
    for (const target of context.targets) {
      uploads.push(
        target.storage.putDisk({
          backupId: target.backupId,
          vmUuid: context.vmUuid,
          diskKey: disk.diskKey,
          virtualSize: source.virtualSize,
          blockSize: source.blockSize,
          footerUuid: disk.snapshotVdiUuid,
          parentFooterUuid: plan.base?.uuid ?? '',
          timestampMs: context.timestampMs,
        }, { resume }),
      );
    }
    const dropped = new Map<number, StorageCallError>();
    /** Runs `step` on each upload still in; a remote refusing for good is dropped while another remains. */
    const each = <T>(step: (upload: DiskUpload) => Promise<T>): Promise<(T | undefined)[]> =>
      Promise.all(
        uploads.map(async (upload, i) => {
          if (dropped.has(i)) return undefined;
          try {
            return await step(upload);
          } catch (error) {
            const failure = upload.remoteFailure ?? (error instanceof StorageCallError ? error : undefined);
            if (failure === undefined || failure.retryable || uploads.length - dropped.size <= 1) throw error;
            dropped.set(i, failure);
            upload.abort();
            context.logger.warn({ disk: disk.diskKey, remote: context.targets[i]!.remoteId, code: failure.code, reason: failure.message }, 'a remote refused the disk: the export goes on to the others');
            return undefined;
          }
        }),
      );
    for await (const block of source.blocks()) {
      // One checksum per block, whatever the number of remotes.
      const checksum = uploadChecksum(source.blockSize, block.bitmap, block.data, block.packed);
      await each((upload) => upload.writeBlock(block.index, block.bitmap, block.data, block.packed, checksum));
      moved.blocks++;
      const bytes = block.bitmap.length + (Buffer.isBuffer(block.data) ? block.data.length : byteLength(block.data));
      moved.bytes += bytes;
      context.progress.add(1, bytes);
    }
    await source.finished();
    const results = await each((upload) => upload.finish());
    uploads.forEach((upload, i) => {
      if (!dropped.has(i) && upload.skipped.blocks > 0) {
        context.logger.info({ disk: disk.diskKey, remote: context.targets[i]!.remoteId, blocksKept: upload.skipped.blocks, bytesKept: upload.skipped.bytes }, 'upload resumed: the blocks the remote kept from the broken try were not sent again');
      }
    });
    const kept = context.targets.flatMap((target, i) => (dropped.has(i) ? [] : [{ target, result: results[i]! }]));
    const done = outcome(disk, plan, source, fallback, { blocks: moved.blocks, bytes: moved.bytes, startedAt, results: kept.map((k) => k.result), targets: kept.map((k) => k.target) });
    return dropped.size === 0 ? done : { ...done, dropped: [...dropped.values()] };
  } catch (error) {
    source.cancel();
    const remote = uploads.map((upload) => upload.remoteFailure).find((failure) => failure !== undefined);
    for (const upload of uploads) upload.abort();
    context.progress.retract(expected, moved);
    throw await blame(source, error, remote, `${moved.blocks} of ${expected.blocks} blocks`);
  }
}

/** The error to report for a failed try, by the side that failed first: a storage agent's refusal
 * or disappearance (the source's error that follows is our own cancel), else the source's. */
async function blame(source: BlockSource, error: unknown, remote: StorageCallError | undefined, progress: string): Promise<unknown> {
  if (remote !== undefined) return remote;
  if (error instanceof StorageCallError) return error;
  return source.blame(error, progress);
}

interface Transferred {
  blocks: number;
  bytes: number;
  startedAt: number;
  results: PutDiskResult[];
  targets: readonly BackupTarget[];
}

function outcome(disk: SnapshotDisk, plan: DiskExportPlan, source: BlockSource, fallback: Fallback | undefined, moved: Transferred): DiskOutcome {
  return {
    diskKey: disk.diskKey,
    vdiUuid: disk.diskKey,
    snapshotVdiUuid: disk.snapshotVdiUuid,
    mode: plan.mode,
    readMethod: source.method,
    ...(fallback === undefined ? {} : { fallbackReason: fallback.reason, fallbackDetail: fallback.detail }),
    ...(plan.base === undefined ? {} : { baseVdiUuid: plan.base.uuid }),
    ...(plan.fullReason === undefined ? {} : { fullReason: plan.fullReason }),
    ...(plan.detail === undefined ? {} : { detail: plan.detail }),
    virtualSize: disk.virtualSize,
    ...(moved.results[0] === undefined ? {} : { digest: digestHex(moved.results[0].digest) }),
    blocks: moved.blocks,
    bytesSent: moved.bytes,
    durationMs: Date.now() - moved.startedAt,
    remotes: moved.results.map((result, i) => ({ remoteId: moved.targets[i]!.remoteId, path: result.path, fileSize: result.fileSize })),
  };
}
