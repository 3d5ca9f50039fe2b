// How one disk is read, decided when its export starts. With `changedBlocks: cbt` (the default)
// a delta reads the 64 KiB extents XAPI's CBT marks between the reference and the new snapshot,
// and a full reads the allocated extents, both over NBD. When that cannot be done for this disk
// the reason is kept for the task's result and the VHD export serves instead — a delta against
// the reference if its data is still on the pool, else a full. Never a silent wrong delta: the
// CBT bitmap is used only when XAPI answers for exactly this base and snapshot, on one SR, and
// the export NBD serves has the snapshot's size.
import { DeltachainError } from '../../../shared/errors.js';
import type { Logger } from '../../../shared/logging/index.js';
import { NbdDiskReader, NbdError } from '../../../shared/nbd/index.js';
import { allocatedExtents, CbtBitmapError, changedExtents, decodeCbtBitmap, totals, type BlockExtents } from '../plan/block-extents.js';
import { purgedReferenceFull, type DiskExportPlan } from '../plan/plan-disk-exports.js';
import type { HostXapi } from '../xapi/host-xapi.js';
import { XapiCallError } from '../xapi/xapi-call-error.js';
import type { XapiRef, XapiVdi } from '../xapi/xapi-records.js';
import type { CbtFallbackReason } from './backup-types.js';
import type { BlockSource } from './block-source.js';
import type { SnapshotDisk } from './backup-types.js';
import { NbdSource, nbdEndpoint } from './nbd-source.js';
import { openVhdExport } from './vhd-export-source.js';

export type ChangedBlocksMethod = 'cbt' | 'vhd-export';

export interface NbdReadOptions {
  connections: number;
  maxInFlightBytes: number;
}

export interface OpenSourceContext {
  xapi: HostXapi;
  logger: Logger;
  changedBlocks: ChangedBlocksMethod;
  nbd: NbdReadOptions;
}

export interface Fallback {
  reason: CbtFallbackReason;
  detail: string;
}

export interface OpenedSource {
  plan: DiskExportPlan;
  source: BlockSource;
  fallback?: Fallback;
}

/** VHD block size of what the NBD path sends (XAPI's VHD exports use the same). */
export const NBD_BLOCK_SIZE = 2 * 1024 * 1024;

class NoCbt extends Error {
  constructor(
    readonly reason: CbtFallbackReason,
    readonly detail: string,
    /** The base's data is gone (cbt_metadata): the VHD export cannot compute a delta from it. */
    readonly basePurged = false,
  ) {
    super(detail);
  }
}

export async function openSource(context: OpenSourceContext, disk: SnapshotDisk, plan: DiskExportPlan): Promise<OpenedSource> {
  let fallback: Fallback | undefined;
  let next = plan;
  if (context.changedBlocks === 'cbt') {
    try {
      return { plan, source: await openNbd(context, disk, plan) };
    } catch (error) {
      if (!(error instanceof NoCbt)) throw error;
      fallback = { reason: error.reason, detail: error.detail };
      context.logger.warn({ disk: disk.diskKey, reason: error.reason, detail: error.detail }, 'CBT and NBD cannot serve this disk; using the VHD export');
      if (error.basePurged && plan.mode === 'delta') next = purgedReferenceFull(plan, error.detail);
    }
  }
  const opened = await openVhdExport(context.xapi, disk, next, context.logger);
  return { ...opened, ...(fallback === undefined ? {} : { fallback }) };
}

async function openNbd(context: OpenSourceContext, disk: SnapshotDisk, plan: DiskExportPlan): Promise<BlockSource> {
  const { xapi } = context;
  const bitmap = plan.mode === 'delta' ? await changedBitmap(xapi, disk, plan.base!.ref, plan.base!.uuid) : undefined;
  const reader = await openReader(context, disk, plan.mode === 'full');
  try {
    let extents: () => Iterable<BlockExtents>;
    if (bitmap !== undefined) extents = () => changedExtents(bitmap, disk.virtualSize, NBD_BLOCK_SIZE);
    else {
      const data = await reader.dataRanges({ offset: 0, length: disk.virtualSize });
      extents = () => allocatedExtents(data, disk.virtualSize, NBD_BLOCK_SIZE);
    }
    return new NbdSource({ reader, disk, blockSize: NBD_BLOCK_SIZE, extents, totals: totals(extents()), mode: plan.mode });
  } catch (error) {
    await reader.close().catch(() => undefined);
    throw error;
  }
}

/** XAPI's CBT bitmap between the reference and the new snapshot, or why there is none. */
async function changedBitmap(xapi: HostXapi, disk: SnapshotDisk, baseRef: XapiRef, baseUuid: string): Promise<Buffer> {
  const [base, snapshot] = await Promise.all([xapi.getRecord<XapiVdi>('VDI', baseRef), xapi.getRecord<XapiVdi>('VDI', disk.snapshotVdiRef)]);
  const purged = base.type === 'cbt_metadata';
  if (base.cbt_enabled !== true) return noCbt('cbt-off', `CBT was off on the reference ${baseUuid} when it was taken`, purged);
  if (snapshot.cbt_enabled !== true) return noCbt('cbt-off', `CBT is off on disk ${disk.diskKey} (the new snapshot ${disk.snapshotVdiUuid} has none)`, purged);
  if (base.SR !== snapshot.SR) return noCbt('moved-sr', `disk ${disk.diskKey} moved to another SR since the reference ${baseUuid}; CBT does not follow a disk across SRs`, purged);
  let answer: unknown;
  try {
    answer = await xapi.call<string>('VDI.list_changed_blocks', baseRef, disk.snapshotVdiRef);
  } catch (error) {
    if (error instanceof XapiCallError && !error.retryable && !error.xapiCode.startsWith('SESSION')) {
      return noCbt('cbt-lost', `XAPI has no CBT record between the reference ${baseUuid} and ${disk.snapshotVdiUuid}: ${error.xapiCode}(${error.params.join(', ')})`, purged);
    }
    throw error;
  }
  try {
    return decodeCbtBitmap(answer, disk.virtualSize);
  } catch (error) {
    if (error instanceof CbtBitmapError) return noCbt('cbt-invalid', `${error.message} (reference ${baseUuid}, snapshot ${disk.snapshotVdiUuid})`, purged);
    throw error;
  }
}

function noCbt(reason: CbtFallbackReason, detail: string, basePurged: boolean): never {
  throw new NoCbt(reason, detail, basePurged);
}

/** Tries to open the NBD export: a refused export name is asked for again once (XAPI's names expire with their session). */
const OPEN_TRIES = 2;

async function openReader(context: OpenSourceContext, disk: SnapshotDisk, blockStatus: boolean): Promise<NbdDiskReader> {
  const { xapi, nbd } = context;
  const endpoint = async () => {
    const records = await xapi.call<Array<Record<string, unknown>>>('VDI.get_nbd_info', disk.snapshotVdiRef);
    if (!Array.isArray(records) || records.length === 0) throw new NoCbt('nbd-unavailable', 'the pool serves no NBD (VDI.get_nbd_info is empty: give a network the purpose nbd)');
    return nbdEndpoint(records[0]!, { blockStatus, maxInFlightBytes: nbd.maxInFlightBytes });
  };
  for (let attempt = 1; ; attempt++) {
    const reader = new NbdDiskReader({ endpoint, connections: nbd.connections, maxInFlightBytes: nbd.maxInFlightBytes });
    let size: number;
    try {
      size = await reader.open();
    } catch (error) {
      await reader.close().catch(() => undefined);
      if (error instanceof NoCbt) throw error;
      if (error instanceof XapiCallError && (error.retryable || error.xapiCode.startsWith('SESSION'))) throw error;
      if (error instanceof NbdError && error.code === 'NBD_EXPORT_REFUSED' && attempt < OPEN_TRIES) {
        context.logger.info({ disk: disk.diskKey, reason: error.message }, 'NBD export name refused; asking XAPI for a fresh one');
        continue;
      }
      throw new NoCbt('nbd-refused', `NBD refused the snapshot ${disk.snapshotVdiUuid}: ${(error as Error).message}`);
    }
    if (size !== disk.virtualSize) {
      await reader.close().catch(() => undefined);
      throw new DeltachainError('EXPORT_UNEXPECTED', `NBD export of VDI ${disk.snapshotVdiUuid} has ${size} bytes; the VDI's virtual size is ${disk.virtualSize}`, { side: 'pool' });
    }
    return reader;
  }
}
