// One disk of a backup: export the snapshot VDI from XAPI as VHD (a delta when the plan has a
// base), parse the stream block by block and forward each block to every remote's PutDisk —
// no temporary file, at most one parsed block plus each upload's bounded in-flight window in
// memory. Each upload encodes a block into its own reused buffers (disk-upload.ts). The parser's
// borrowed-block mode (reuseBuffers) would save its per-block buffer too, but measured on the
// agent bench it raised the agent's peak RSS by about 20 MiB (against the 200 MiB bound), so
// blocks stay owned. XAPI refusing a delta before the first byte turns it into a full (said in
// the result); any failure after that aborts every upload of the disk, so nothing becomes visible
// remotely.
import { BAT_ABSENT, DiskType, bitmapSize, parseVhdStream, type VhdStream } from '../../../shared/vhd/index.js';
import { DeltachainError } from '../../../shared/errors.js';
import type { Logger } from '../../../shared/logging/index.js';
import { fallBackToFull, type DiskExportPlan } from '../plan/plan-disk-exports.js';
import type { DiskUpload, PutDiskResult } from '../remote/disk-upload.js';
import type { HostXapi, VdiExport } from '../xapi/host-xapi.js';
import { XapiCallError } from '../xapi/xapi-call-error.js';
import type { XapiRef } from '../xapi/xapi-records.js';
import type { BackupTarget, DiskOutcome } from './backup-types.js';
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
  try {
    const vhd = await parseVhdStream(exported.body, { where: `export of VDI ${disk.snapshotVdiUuid}` });
    checkStream(vhd, disk, plan);
    const allocated = vhd.bat.reduce((count, entry) => (entry === BAT_ABSENT ? count : count + 1), 0);
    const blockBytes = vhd.header.blockSize + bitmapSize(vhd.header.blockSize);
    context.progress.expect(allocated, allocated * blockBytes);
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
    let blocks = 0;
    let bytes = 0;
    for await (const block of vhd.blocks()) {
      await Promise.all(uploads.map((upload) => upload.writeBlock(block.index, block.bitmap, block.data)));
      blocks++;
      bytes += block.bitmap.length + block.data.length;
      context.progress.add(1, block.bitmap.length + block.data.length);
    }
    await exported.done;
    const results = await Promise.all(uploads.map((upload) => upload.finish()));
    return outcome(disk, plan, { blocks, bytes, startedAt, results, targets: context.targets });
  } catch (error) {
    exported.cancel();
    for (const upload of uploads) upload.abort();
    throw await preferXapiError(exported, error);
  }
}

/** A stream that ends early is usually XAPI failing the export: report XAPI's error (the task's
 * VDI_IO_ERROR …) rather than the truncation it caused, when the task says so promptly. */
async function preferXapiError(exported: VdiExport, error: unknown): Promise<unknown> {
  if (error instanceof XapiCallError) return error;
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
  if (verdict instanceof XapiCallError) {
    return new XapiCallError(verdict.method, verdict.xapiCode, verdict.params, { cause: error, detail: `(the export stream broke: ${(error as Error).message})` });
  }
  return error;
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
    throw new DeltachainError('EXPORT_UNEXPECTED', `export of VDI ${disk.snapshotVdiUuid}: expected a ${DiskType[expected]} VHD for a ${plan.mode} export, got ${DiskType[vhd.footer.diskType] ?? vhd.footer.diskType}`);
  }
  if (vhd.footer.currentSize !== disk.virtualSize) {
    throw new DeltachainError('EXPORT_UNEXPECTED', `export of VDI ${disk.snapshotVdiUuid}: VHD size ${vhd.footer.currentSize} differs from the VDI's virtual size ${disk.virtualSize}`);
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
    ...(plan.base === undefined ? {} : { baseVdiUuid: plan.base.uuid }),
    ...(plan.fullReason === undefined ? {} : { fullReason: plan.fullReason }),
    ...(plan.detail === undefined ? {} : { detail: plan.detail }),
    virtualSize: disk.virtualSize,
    blocks: moved.blocks,
    bytesSent: moved.bytes,
    durationMs: Date.now() - moved.startedAt,
    remotes: moved.results.map((result, i) => ({ remoteId: moved.targets[i]!.remoteId, path: result.path, fileSize: result.fileSize })),
  };
}
