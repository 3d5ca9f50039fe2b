// One disk of a backup, one try: export the snapshot VDI from XAPI as VHD (a delta when the plan
// has a base), parse the stream block by block and forward each block to every remote's PutDisk —
// no temporary file, at most one parsed block plus each upload's bounded in-flight window in
// memory. Each upload encodes a block into its own reused buffers (disk-upload.ts). The parser's
// borrowed-block mode (reuseBuffers) would save its per-block buffer too, but measured on the
// agent bench it raised the agent's peak RSS by about 20 MiB (against the 200 MiB bound), so
// blocks stay owned. XAPI refusing a delta before the first byte turns it into a full (said in
// the result); any failure after that aborts every upload of the disk, so nothing becomes visible
// remotely, and is blamed on the side that failed first: a storage agent that refused or went
// away (XAPI then reports our cancel as VDI_IO_ERROR: not the pool's fault), or the export
// stream breaking (ExportInterruptedError, with XAPI's verdict). transfer-disk.ts decides
// whether to try again.
import { BAT_ABSENT, DiskType, bitmapSize, parseVhdStream, type VhdStream } from '../../../shared/vhd/index.js';
import { DeltachainError } from '../../../shared/errors.js';
import { digestHex } from '../../../shared/grpc/disk-checksum.js';
import type { Logger } from '../../../shared/logging/index.js';
import { fallBackToFull, type DiskExportPlan } from '../plan/plan-disk-exports.js';
import type { DiskUpload, PutDiskResult } from '../remote/disk-upload.js';
import { StorageCallError } from '../remote/storage-call-error.js';
import type { HostXapi, VdiExport } from '../xapi/host-xapi.js';
import { XapiCallError } from '../xapi/xapi-call-error.js';
import type { XapiRef } from '../xapi/xapi-records.js';
import type { BackupTarget, DiskOutcome } from './backup-types.js';
import { ExportInterruptedError } from './export-interrupted-error.js';
import type { TransferProgress } from './transfer-progress.js';

export interface SnapshotDisk {
  diskKey: string;
  snapshotVdiRef: XapiRef;
  snapshotVdiUuid: string;
  virtualSize: number;
}

export interface ExportDiskContext {
  xapi: HostXapi;
  vmUuid: string;
  targets: readonly BackupTarget[];
  /** VHD timestamp of the disks (the snapshot time), ms since the epoch. */
  timestampMs: number;
  progress: TransferProgress;
  logger: Logger;
}

export async function exportDisk(context: ExportDiskContext, disk: SnapshotDisk, initialPlan: DiskExportPlan): Promise<DiskOutcome> {
  const startedAt = Date.now();
  const { plan, exported } = await startExport(context, disk, initialPlan);
  const uploads: DiskUpload[] = [];
  const expected = { blocks: 0, bytes: 0 };
  const moved = { blocks: 0, bytes: 0 };
  try {
    const vhd = await parseVhdStream(exported.body, { where: `export of VDI ${disk.snapshotVdiUuid}` });
    checkStream(vhd, disk, plan);
    expected.blocks = vhd.bat.reduce((count, entry) => (entry === BAT_ABSENT ? count : count + 1), 0);
    expected.bytes = expected.blocks * (vhd.header.blockSize + bitmapSize(vhd.header.blockSize));
    context.progress.expect(expected.blocks, expected.bytes);
    for (const target of context.targets) {
      uploads.push(
        target.storage.putDisk({
          backupId: target.backupId,
          vmUuid: context.vmUuid,
          diskKey: disk.diskKey,
          virtualSize: vhd.footer.currentSize,
          blockSize: vhd.header.blockSize,
          footerUuid: disk.snapshotVdiUuid,
          parentFooterUuid: plan.base?.uuid ?? '',
          timestampMs: context.timestampMs,
        }),
      );
    }
    for await (const block of vhd.blocks()) {
      await Promise.all(uploads.map((upload) => upload.writeBlock(block.index, block.bitmap, block.data)));
      moved.blocks++;
      moved.bytes += block.bitmap.length + block.data.length;
      context.progress.add(1, block.bitmap.length + block.data.length);
    }
    await exported.done;
    const results = await Promise.all(uploads.map((upload) => upload.finish()));
    return outcome(disk, plan, { blocks: moved.blocks, bytes: moved.bytes, startedAt, results, targets: context.targets });
  } catch (error) {
    exported.cancel();
    const remote = uploads.map((upload) => upload.remoteFailure).find((failure) => failure !== undefined);
    for (const upload of uploads) upload.abort();
    context.progress.retract(expected, moved);
    throw await blame(exported, disk, error, remote, `${moved.blocks} of ${expected.blocks} blocks`);
  }
}

/**
 * The error to report for a failed try, by the side that failed first: a storage agent's refusal
 * or disappearance (XAPI's error that follows is our own cancel), a check of the stream's shape,
 * or else the export stream breaking — with XAPI's verdict when its task gives one promptly.
 */
async function blame(exported: VdiExport, disk: SnapshotDisk, error: unknown, remote: StorageCallError | undefined, progress: string): Promise<unknown> {
  if (remote !== undefined) return remote;
  if (error instanceof StorageCallError || (error instanceof DeltachainError && error.code === 'EXPORT_UNEXPECTED')) return error;
  const verdict = error instanceof XapiCallError ? error : await xapiVerdict(exported);
  return new ExportInterruptedError(disk.snapshotVdiUuid, disk.diskKey, error, verdict, progress);
}

/** XAPI's error for the export's task, if it ends with one within two seconds. */
async function xapiVerdict(exported: VdiExport): Promise<XapiCallError | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const verdict = await Promise.race([
    exported.done.then(
      () => undefined,
      (taskError: unknown) => taskError,
    ),
    new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), 2000);
    }),
  ]);
  clearTimeout(timer);
  return verdict instanceof XapiCallError ? verdict : undefined;
}

async function startExport(context: ExportDiskContext, disk: SnapshotDisk, plan: DiskExportPlan): Promise<{ plan: DiskExportPlan; exported: VdiExport }> {
  try {
    return { plan, exported: await context.xapi.exportVdi(disk.snapshotVdiRef, plan.base?.ref) };
  } catch (error) {
    if (plan.mode !== 'delta' || !(error instanceof XapiCallError) || error.retryable || error.xapiCode.startsWith('SESSION')) throw error;
    const fallback = fallBackToFull(plan, `${error.xapiCode}(${error.params.join(', ')})`);
    context.logger.warn({ disk: disk.diskKey, code: error.xapiCode }, 'delta export refused, exporting a full');
    return { plan: fallback, exported: await context.xapi.exportVdi(disk.snapshotVdiRef) };
  }
}

function checkStream(vhd: VhdStream, disk: SnapshotDisk, plan: DiskExportPlan): void {
  const expected = plan.mode === 'delta' ? DiskType.Differencing : DiskType.Dynamic;
  if (vhd.footer.diskType !== expected) {
    throw new DeltachainError('EXPORT_UNEXPECTED', `export of VDI ${disk.snapshotVdiUuid}: expected a ${DiskType[expected]} VHD for a ${plan.mode} export, got ${DiskType[vhd.footer.diskType] ?? vhd.footer.diskType}`, { side: 'pool' });
  }
  if (vhd.footer.currentSize !== disk.virtualSize) {
    throw new DeltachainError('EXPORT_UNEXPECTED', `export of VDI ${disk.snapshotVdiUuid}: VHD size ${vhd.footer.currentSize} differs from the VDI's virtual size ${disk.virtualSize}`, { side: 'pool' });
  }
}

interface Transferred {
  blocks: number;
  bytes: number;
  startedAt: number;
  results: PutDiskResult[];
  targets: readonly BackupTarget[];
}

function outcome(disk: SnapshotDisk, plan: DiskExportPlan, moved: Transferred): DiskOutcome {
  return {
    diskKey: disk.diskKey,
    vdiUuid: disk.diskKey,
    snapshotVdiUuid: disk.snapshotVdiUuid,
    mode: plan.mode,
    readMethod: 'vhd-export',
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
