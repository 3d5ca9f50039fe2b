// Where the blocks of a VHD sit, checked before any block is read: every BAT entry must lie
// inside the file (or stream), clear of the metadata (footer copy, header, BAT), and no two
// blocks may overlap. A pure function over the decoded BAT, shared by the file reader and the
// stream parser. Returns the present blocks' indexes in file order (ascending offset); the
// common case — offsets already ascending with the index — is detected without sorting.
// `dynamicBlockOrder` applies it to a dynamic or differencing VHD: its metadata is the footer copy
// at 0, the dynamic header and the BAT.
import { BAT_ABSENT, FOOTER_SIZE, HEADER_SIZE, SECTOR_SIZE, VhdFormatError, batSize, bitmapSize, type DynamicHeader } from './format/index.js';

export interface ByteRange {
  /** Names the structure in errors: "dynamic header". */
  what: string;
  start: number;
  end: number;
}

export interface BlockLayoutRules {
  /** Bitmap + data bytes of one block. */
  blockBytes: number;
  /** Regions no block may overlap. */
  reserved: ByteRange[];
  /** Blocks must end at or before this offset (the file size), when known. */
  end?: number;
  /** Blocks must start at or after this offset (the end of the BAT in a stream). */
  start?: number;
  /** Prefix of error locations: a path or "VHD stream". */
  where: string;
}

export interface DynamicLayout {
  /** Where the dynamic header starts (the footer's dataOffset). */
  dataOffset: number;
  header: DynamicHeader;
  /** Prefix of error locations: a path or "VHD stream". */
  where: string;
  /** Blocks must end at or before this offset (the file size), when known. */
  end?: number;
  /** Blocks must come after the BAT, as a stream lays them out. */
  blocksAfterBat?: boolean;
}

/** blocksInFileOrder for a dynamic or differencing VHD: no block may overlap its metadata. */
export function dynamicBlockOrder(bat: Uint32Array, layout: DynamicLayout): Uint32Array {
  const { dataOffset, header } = layout;
  const batEnd = header.tableOffset + batSize(header.maxTableEntries);
  return blocksInFileOrder(bat, {
    blockBytes: bitmapSize(header.blockSize) + header.blockSize,
    where: layout.where,
    ...(layout.end === undefined ? {} : { end: layout.end }),
    ...(layout.blocksAfterBat === true ? { start: batEnd } : {}),
    reserved: [
      { what: 'footer copy', start: 0, end: FOOTER_SIZE },
      { what: 'dynamic header', start: dataOffset, end: dataOffset + HEADER_SIZE },
      { what: 'BAT', start: header.tableOffset, end: batEnd },
    ],
  });
}

export function blocksInFileOrder(bat: Uint32Array, rules: BlockLayoutRules): Uint32Array {
  const present: number[] = [];
  let ascending = true;
  let previous = -1;
  for (let i = 0; i < bat.length; i++) {
    const sector = bat[i]!;
    if (sector === BAT_ABSENT) continue;
    if (sector <= previous) ascending = false;
    previous = sector;
    present.push(i);
  }
  if (!ascending) present.sort((a, b) => bat[a]! - bat[b]!);
  const order = Uint32Array.from(present);
  for (let k = 0; k < order.length; k++) {
    const index = order[k]!;
    const start = bat[index]! * SECTOR_SIZE;
    checkOne(index, start, rules);
    if (k > 0) {
      const before = order[k - 1]!;
      const beforeEnd = bat[before]! * SECTOR_SIZE + rules.blockBytes;
      if (start < beforeEnd) {
        throw new VhdFormatError(
          `${rules.where}: BAT entry ${index}`,
          `block at byte ${start} overlaps block ${before} (bytes ${beforeEnd - rules.blockBytes}..${beforeEnd})`,
        );
      }
    }
  }
  return order;
}

function checkOne(index: number, start: number, rules: BlockLayoutRules): void {
  const end = start + rules.blockBytes;
  const where = `${rules.where}: BAT entry ${index}`;
  for (const r of rules.reserved) {
    if (start < r.end && r.start < end) {
      throw new VhdFormatError(where, `block at bytes ${start}..${end} overlaps the ${r.what} (bytes ${r.start}..${r.end})`);
    }
  }
  if (rules.start !== undefined && start < rules.start) {
    throw new VhdFormatError(where, `block at byte ${start} is before the end of the BAT (byte ${rules.start})`);
  }
  if (rules.end !== undefined && end > rules.end) {
    throw new VhdFormatError(where, `block at bytes ${start}..${end} runs past the end of the file (${rules.end} bytes)`);
  }
}
