// A disk's blocks from XAPI's VHD export (`/export_raw_vdi?format=vhd`, a delta when the plan has
// a base), parsed as they arrive — no temporary file, one parsed block in memory. XAPI refusing a
// delta before the first byte turns it into a full (said in the plan). Blocks are BORROWED from
// the parser (reuseBuffers: one block buffer for the whole export, overwritten by the next
// block): export-disk.ts is done with a block when it asks for the next, since every upload
// checksums and encodes a block into buffers of its own before its writeBlock first awaits. A
// fresh 2 MiB buffer per block cost the host agent about 1 CPU s per 4 GiB full in page faults
// and garbage collection.
import { BAT_ABSENT, DiskType, bitmapSize, parseVhdStream, type VhdStream } from '../../../shared/vhd/index.js';
import { DeltachainError } from '../../../shared/errors.js';
import type { Logger } from '../../../shared/logging/index.js';
import { fallBackToFull, type DiskExportPlan } from '../plan/plan-disk-exports.js';
import type { HostXapi, VdiExport } from '../xapi/host-xapi.js';
import { XapiCallError } from '../xapi/xapi-call-error.js';
import type { BlockSource, SourceBlock } from './block-source.js';
import type { SnapshotDisk } from './backup-types.js';
import { ExportInterruptedError } from './export-interrupted-error.js';

export async function openVhdExport(xapi: HostXapi, disk: SnapshotDisk, initialPlan: DiskExportPlan, logger: Logger): Promise<{ plan: DiskExportPlan; source: BlockSource }> {
  const { plan, exported } = await startExport(xapi, disk, initialPlan, logger);
  try {
    const vhd = await parseVhdStream(exported.body, { where: `export of VDI ${disk.snapshotVdiUuid}`, reuseBuffers: true });
    checkStream(vhd, disk, plan);
    return { plan, source: new VhdExportSource(exported, vhd, disk) };
  } catch (error) {
    exported.cancel();
    if (error instanceof DeltachainError && error.code === 'EXPORT_UNEXPECTED') throw error;
    throw new ExportInterruptedError(disk.snapshotVdiUuid, disk.diskKey, error, await xapiVerdict(exported), 'the VHD header');
  }
}

class VhdExportSource implements BlockSource {
  readonly method = 'vhd-export';
  readonly virtualSize: number;
  readonly blockSize: number;
  readonly expected: { blocks: number; bytes: number };

  constructor(
    private readonly exported: VdiExport,
    private readonly vhd: VhdStream,
    private readonly disk: SnapshotDisk,
  ) {
    this.virtualSize = vhd.footer.currentSize;
    this.blockSize = vhd.header.blockSize;
    const blocks = vhd.bat.reduce((count, entry) => (entry === BAT_ABSENT ? count : count + 1), 0);
    this.expected = { blocks, bytes: blocks * (vhd.header.blockSize + bitmapSize(vhd.header.blockSize)) };
  }

  async *blocks(): AsyncIterable<SourceBlock> {
    for await (const block of this.vhd.blocks()) yield { index: block.index, bitmap: block.bitmap, data: block.data, packed: false };
  }

  finished(): Promise<void> {
    return this.exported.done;
  }

  cancel(): void {
    this.exported.cancel();
  }

  /** The export stream broke (a check of its shape failing is said as it is), with XAPI's verdict when its task gives one promptly. */
  async blame(error: unknown, progress: string): Promise<unknown> {
    if (error instanceof DeltachainError && error.code === 'EXPORT_UNEXPECTED') return error;
    const verdict = error instanceof XapiCallError ? error : await xapiVerdict(this.exported);
    return new ExportInterruptedError(this.disk.snapshotVdiUuid, this.disk.diskKey, error, verdict, progress);
  }
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

async function startExport(xapi: HostXapi, disk: SnapshotDisk, plan: DiskExportPlan, logger: Logger): Promise<{ plan: DiskExportPlan; exported: VdiExport }> {
  try {
    return { plan, exported: await xapi.exportVdi(disk.snapshotVdiRef, plan.base?.ref) };
  } catch (error) {
    if (plan.mode !== 'delta' || !(error instanceof XapiCallError) || error.retryable || error.xapiCode.startsWith('SESSION')) throw error;
    const fallback = fallBackToFull(plan, `${error.xapiCode}(${error.params.join(', ')})`);
    logger.warn({ disk: disk.diskKey, code: error.xapiCode }, 'delta export refused, exporting a full');
    return { plan: fallback, exported: await xapi.exportVdi(disk.snapshotVdiRef) };
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
