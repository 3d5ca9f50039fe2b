// Test support: builds small VHD streams byte by byte in the layout XAPI emits (footer, header
// @512, zeros, BAT @2048, blocks, footer), with knobs to move or corrupt any structure. Tests of
// the stream parser use it to make both valid and hostile input. Small disks only: the whole
// stream is one Buffer.
import {
  DiskType,
  SECTOR_SIZE,
  batSize,
  bitmapSize,
  blockCount,
  encodeBat,
  encodeFooter,
  encodeHeader,
  newBat,
  newFooter,
  newHeader,
  type DynamicHeader,
  type Footer,
} from '../format/index.js';

export interface StreamBlock {
  index: number;
  data: Buffer;
  bitmap?: Buffer;
}

export interface StreamSpec {
  currentSize: number;
  blockSize?: number;
  diskType?: DiskType.Dynamic | DiskType.Differencing;
  uuid?: string;
  parentUuid?: string;
  /** Default 512. */
  headerOffset?: number;
  /** Default 2048 (XAPI). */
  tableOffset?: number;
  /** Blocks in stream order. */
  blocks: StreamBlock[];
  /** Offset of the first block; default right after the BAT. */
  firstBlockOffset?: number;
  /** Bytes (a multiple of 512) left between consecutive blocks. */
  blockPadding?: number;
  patchFooter?: (footer: Footer) => void;
  patchHeader?: (header: DynamicHeader) => void;
  /** Runs after the BAT is filled from the block placement. */
  patchBat?: (bat: Uint32Array) => void;
  /** Replaces the trailing footer (null: none). */
  trailingFooter?: Buffer | null;
}

export const TEST_UUID = '0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0';
export const TEST_PARENT_UUID = '12345678-9abc-4def-8123-456789abcdef';

export function buildVhdStream(spec: StreamSpec): { bytes: Buffer; blockOffsets: number[] } {
  const blockSize = spec.blockSize ?? 2 * 1024 * 1024;
  const diskType = spec.diskType ?? DiskType.Dynamic;
  const headerOffset = spec.headerOffset ?? 512;
  const tableOffset = spec.tableOffset ?? 2048;
  const entries = blockCount(spec.currentSize, blockSize);
  const footer = newFooter({ diskType, currentSize: spec.currentSize, uuid: spec.uuid ?? TEST_UUID, date: new Date(0) });
  footer.dataOffset = headerOffset;
  spec.patchFooter?.(footer);
  const header = newHeader({
    tableOffset,
    maxTableEntries: entries,
    blockSize,
    parentUuid: diskType === DiskType.Differencing ? (spec.parentUuid ?? TEST_PARENT_UUID) : undefined,
    parentUnicodeName: diskType === DiskType.Differencing ? './parent.vhd' : undefined,
  });
  spec.patchHeader?.(header);
  const bat = newBat(Math.min(header.maxTableEntries, entries));
  const bitmapBytes = bitmapSize(blockSize);
  let at = spec.firstBlockOffset ?? tableOffset + batSize(bat.length);
  const blockOffsets: number[] = [];
  for (const block of spec.blocks) {
    bat[block.index] = at / SECTOR_SIZE;
    blockOffsets.push(at);
    at += bitmapBytes + block.data.length + (spec.blockPadding ?? 0);
  }
  spec.patchBat?.(bat);
  const end = spec.blocks.length > 0 ? at - (spec.blockPadding ?? 0) : at;
  const footerBytes = encodeFooter(footer);
  const trailing = spec.trailingFooter === undefined ? footerBytes : spec.trailingFooter;
  const bytes = Buffer.alloc(end + (trailing ? trailing.length : 0));
  footerBytes.copy(bytes, 0);
  encodeHeader(header).copy(bytes, headerOffset);
  encodeBat(bat).copy(bytes, tableOffset);
  spec.blocks.forEach((block, k) => {
    (block.bitmap ?? Buffer.alloc(bitmapBytes, 0xff)).copy(bytes, blockOffsets[k]!);
    block.data.copy(bytes, blockOffsets[k]! + bitmapBytes);
  });
  if (trailing) trailing.copy(bytes, end);
  return { bytes, blockOffsets };
}

/** Yields `bytes` in chunks of `size` bytes (or sizes drawn from `sizes`, cycling). */
export async function* chunked(bytes: Buffer, sizes: number | number[]): AsyncGenerator<Buffer> {
  const list = typeof sizes === 'number' ? [sizes] : sizes;
  let at = 0;
  for (let k = 0; at < bytes.length; k++) {
    const n = Math.max(1, list[k % list.length]!);
    yield bytes.subarray(at, at + n);
    at += n;
  }
}
