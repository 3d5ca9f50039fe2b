// What `vhd info` reports about one VHD file: a plain object (the --json output as is) and an
// aligned two-column table for people. Describing is pure over an opened VhdFile.
import { DiskType, NIL_UUID, dateFromVhdTimestamp } from '../format/index.js';
import type { VhdFile } from '../vhd-file.js';
import { formatBlockRanges } from './block-ranges.js';
import { humanSize } from '../../human-units.js';

export interface VhdInfo {
  path: string;
  type: 'dynamic' | 'differencing';
  /** Bytes: the virtual size (footer current size). */
  virtualSize: number;
  /** Bytes of the file. */
  fileSize: number;
  /** Bytes. */
  blockSize: number;
  blockCount: number;
  allocatedBlocks: number;
  uuid: string;
  /** ISO 8601, from the footer timestamp. */
  timestamp: string;
  creator: string;
  parentUuid: string | null;
  parentName: string | null;
  /** Why the trailing footer is unusable (the file was read through its footer copy at 0); null when fine. */
  trailingFooterProblem: string | null;
  /** Allocated block indexes as ranges ("0-5,9"), only when asked for. */
  blocks?: string;
}

export function describeVhd(vhd: VhdFile, options: { blocks?: boolean } = {}): VhdInfo {
  const allocated = vhd.allocatedBlocks();
  const differencing = vhd.footer.diskType === DiskType.Differencing;
  const info: VhdInfo = {
    path: vhd.path,
    type: differencing ? 'differencing' : 'dynamic',
    virtualSize: vhd.currentSize,
    fileSize: vhd.fileSize,
    blockSize: vhd.blockSize,
    blockCount: vhd.blockCount,
    allocatedBlocks: allocated.length,
    uuid: vhd.footer.uuid,
    timestamp: dateFromVhdTimestamp(vhd.footer.timestamp).toISOString(),
    creator: vhd.footer.creatorApplication.replace(/\0+$/, ''),
    parentUuid: differencing && vhd.header.parentUuid !== NIL_UUID ? vhd.header.parentUuid : null,
    parentName: differencing && vhd.header.parentUnicodeName !== '' ? vhd.header.parentUnicodeName : null,
    trailingFooterProblem: vhd.trailingFooterProblem ?? null,
  };
  if (options.blocks) info.blocks = formatBlockRanges(allocated);
  return info;
}

export function formatVhdInfo(info: VhdInfo): string {
  const share = info.blockCount === 0 ? 0 : (100 * info.allocatedBlocks) / info.blockCount;
  const rows: [string, string][] = [
    ['file', info.path],
    ['type', info.type],
    ['virtual size', `${humanSize(info.virtualSize)} (${info.virtualSize} bytes)`],
    ['file size', `${humanSize(info.fileSize)} (${info.fileSize} bytes)`],
    ['block size', humanSize(info.blockSize)],
    ['allocated blocks', `${info.allocatedBlocks} of ${info.blockCount} (${share.toFixed(1)}%)`],
    ['uuid', info.uuid],
    ['timestamp', info.timestamp],
    ['creator', info.creator],
  ];
  if (info.type === 'differencing') {
    rows.push(['parent uuid', info.parentUuid ?? '(none)'], ['parent name', info.parentName ?? '(none)']);
  }
  if (info.trailingFooterProblem !== null) rows.push(['warning', `${info.trailingFooterProblem} (run "deltachain vhd check")`]);
  if (info.blocks !== undefined) rows.push(['blocks', info.blocks === '' ? '(none)' : info.blocks]);
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n') + '\n';
}
