// The byte layout of a VHD export as XAPI streams it (ocaml/libs/vhd/vhd_format/f.ml): footer
// copy at 0, dynamic header at 512 (table_offset 2048), zeros at 1536, the BAT at 2048, for a
// differencing disk one MacX parent locator whose data (after the BAT) is zeros in the stream,
// then the allocated blocks in index order (512-byte all-ones bitmap + the block's data), and
// the footer at the end. Creator "caml"; current_size is the exact virtual size. Pure: computes
// the structures; vhd-export-stream.ts does the I/O.
import { DiskType, FOOTER_SIZE, PlatformCode, SECTOR_SIZE, batSize, bitmapSize, blockCount, encodeBat, encodeFooter, encodeHeader, fullBitmap, newBat, newFooter, newHeader, vhdTimestamp } from '../../../shared/vhd/format/index.js';

export const TABLE_OFFSET = 2048;

export interface VhdExportParent {
  /** Footer uuid of the parent: the base VDI's uuid. */
  uuid: string;
  /** Stored as parent_unicode_name (XAPI puts the base's path there). */
  name: string;
  /** Modification time of the parent. */
  date: Date;
}

export interface VhdExportLayoutOptions {
  /** Bytes. */
  virtualSize: number;
  blockSize: number;
  /** Footer uuid: the exported VDI's uuid. */
  uuid: string;
  /** Blocks to include, ascending. */
  blocks: number[];
  /** Present for a differencing (delta) export. */
  parent?: VhdExportParent;
  date?: Date;
}

export interface VhdExportLayout {
  /** Everything before the first block: footer copy, header, zeros, BAT, locator data. */
  head: Buffer;
  /** Blocks in stream order. */
  blocks: number[];
  /** Bytes of each block in the stream (bitmap + data). */
  blockBytes: number;
  bitmap: Buffer;
  footer: Buffer;
  /** Bytes of the whole stream. */
  totalBytes: number;
}

export function vhdExportLayout(options: VhdExportLayoutOptions): VhdExportLayout {
  const { virtualSize, blockSize, parent } = options;
  const date = options.date ?? new Date();
  const entries = blockCount(virtualSize, blockSize);
  const locatorData = parent === undefined ? Buffer.alloc(0) : Buffer.from(`file://./${parent.name}`, 'utf8');
  const locatorSpace = Math.ceil(locatorData.length / SECTOR_SIZE) * SECTOR_SIZE;
  const locatorOffset = TABLE_OFFSET + batSize(entries);
  const firstBlock = locatorOffset + locatorSpace;
  const bitmapBytes = bitmapSize(blockSize);
  const blockBytes = bitmapBytes + blockSize;
  const bat = newBat(entries);
  options.blocks.forEach((index, k) => (bat[index] = (firstBlock + k * blockBytes) / SECTOR_SIZE));
  const footer = encodeFooter({
    ...newFooter({ diskType: parent ? DiskType.Differencing : DiskType.Dynamic, currentSize: virtualSize, uuid: options.uuid, date, creatorApplication: 'caml' }),
    creatorVersion: 0x00010001,
  });
  const header = encodeHeader(
    newHeader({
      tableOffset: TABLE_OFFSET,
      maxTableEntries: entries,
      blockSize,
      ...(parent === undefined
        ? {}
        : {
            parentUuid: parent.uuid,
            parentTimestamp: vhdTimestamp(parent.date),
            parentUnicodeName: parent.name,
            parentLocators: [
              { platformCode: PlatformCode.MacX, platformDataSpace: locatorSpace / SECTOR_SIZE, platformDataLength: locatorData.length, platformDataOffset: locatorOffset },
            ],
          }),
    }),
  );
  const head = Buffer.alloc(firstBlock);
  footer.copy(head, 0);
  header.copy(head, FOOTER_SIZE);
  encodeBat(bat).copy(head, TABLE_OFFSET);
  return {
    head,
    blocks: options.blocks,
    blockBytes,
    bitmap: fullBitmap(bitmapBytes),
    footer,
    totalBytes: firstBlock + options.blocks.length * blockBytes + FOOTER_SIZE,
  };
}
