// The decisions of a merge, as pure functions over plain data (merge.ts does the I/O):
//
// - `classifyChildBlock`: a child block is copied whole when every sector is marked, skipped when
//   none is, and combined sector by sector with the parent's block otherwise.
// - `combinePartialBlock`: the merged block of a partially marked child block. Marked sectors come
//   from the child. Into a dynamic parent the rest is the parent's marked data or zeros, and the
//   bitmap becomes full (a dynamic disk's unmarked sector reads as zeros). Into a differencing
//   parent the rest keeps the parent's bytes and the bitmap is the union (unmarked still means
//   "read the grandparent"). Applying it twice gives the same block, which makes resuming safe.
// - `dataEnd`: the first byte past every structure the file references — where appends go. It
//   ignores the file size, so bytes left past it by an interrupted append are simply overwritten.
// - `planBatGrowth`: what must move so the BAT can cover more blocks in place.
// - `mergedFooter`: the parent's footer once it has become the child.
// - `resumeAction`: what an interrupted merge still has to do, from its state and the files found.
import {
  BAT_ABSENT,
  HEADER_SIZE,
  PlatformCode,
  SECTOR_SIZE,
  batSize,
  isSectorMarked,
  type DynamicHeader,
  type Footer,
} from './format/index.js';
import type { MergeState, MergeStep } from './merge-state.js';

export type ChildBlockKind = 'full' | 'partial' | 'empty';

export function classifyChildBlock(bitmap: Uint8Array, sectors: number): ChildBlockKind {
  const wholeBytes = sectors >> 3;
  let anySet = false;
  let anyClear = false;
  for (let i = 0; i < wholeBytes && !(anySet && anyClear); i++) {
    const b = bitmap[i]!;
    if (b !== 0) anySet = true;
    if (b !== 0xff) anyClear = true;
  }
  for (let s = wholeBytes * 8; s < sectors; s++) {
    if (isSectorMarked(bitmap, s)) anySet = true;
    else anyClear = true;
  }
  if (!anySet) return 'empty';
  return anyClear ? 'partial' : 'full';
}

export interface BlockGeometry {
  /** Bytes of the sector bitmap (padded to a sector) that precedes the data. */
  bitmapSize: number;
  /** Sectors per block. */
  sectors: number;
}

/**
 * Rewrites `child` (bitmap then data, one buffer) into the merged block. `parent` is the parent's
 * block in the same layout, or undefined when the parent lacks it.
 */
export function combinePartialBlock(
  child: Buffer,
  parent: Buffer | undefined,
  geometry: BlockGeometry,
  parentIsDynamic: boolean,
): void {
  const { bitmapSize, sectors } = geometry;
  const childBitmap = child.subarray(0, bitmapSize);
  const parentBitmap = parent?.subarray(0, bitmapSize);
  forEachUnmarkedRun(childBitmap, sectors, (first, end) => {
    const from = bitmapSize + first * SECTOR_SIZE;
    const to = bitmapSize + end * SECTOR_SIZE;
    if (!parent) {
      if (parentIsDynamic) child.fill(0, from, to);
      return;
    }
    parent.copy(child, from, from, to);
    if (parentIsDynamic) zeroUnmarked(child, parentBitmap!, first, end, bitmapSize);
  });
  if (parentIsDynamic) {
    childBitmap.fill(0xff);
  } else if (parentBitmap) {
    for (let i = 0; i < bitmapSize; i++) childBitmap[i]! |= parentBitmap[i]!;
  }
}

/** Calls `visit(first, end)` for each maximal run of unmarked sectors [first, end). */
function forEachUnmarkedRun(bitmap: Uint8Array, sectors: number, visit: (first: number, end: number) => void): void {
  let s = 0;
  while (s < sectors) {
    if ((s & 7) === 0 && bitmap[s >> 3] === 0xff) {
      s += 8;
      continue;
    }
    if (isSectorMarked(bitmap, s)) {
      s++;
      continue;
    }
    const first = s;
    while (s < sectors && !isSectorMarked(bitmap, s)) s++;
    visit(first, Math.min(s, sectors));
  }
}

/** Zeroes the sectors of [first, end) that the dynamic parent's bitmap leaves unmarked. */
function zeroUnmarked(block: Buffer, parentBitmap: Uint8Array, first: number, end: number, bitmapSize: number): void {
  for (let s = first; s < end; s++) {
    if (!isSectorMarked(parentBitmap, s)) {
      block.fill(0, bitmapSize + s * SECTOR_SIZE, bitmapSize + (s + 1) * SECTOR_SIZE);
    }
  }
}

/** What a VHD file's metadata says about where things are; footer offset/data offset in bytes. */
export interface FileLayout {
  /** Absolute offset of the dynamic header (the footer's data offset). */
  headerOffset: number;
  header: DynamicHeader;
  bat: Uint32Array;
  /** Bitmap + data bytes of one block. */
  blockBytes: number;
}

/** A referenced region of the file other than the footer copy at 0. */
export type Region =
  | { kind: 'header'; start: number; end: number }
  | { kind: 'bat'; start: number; end: number }
  | { kind: 'locator'; slot: number; start: number; end: number }
  | { kind: 'block'; index: number; start: number; end: number };

/** Bytes a parent locator's data occupies; the data space is read leniently (sectors or bytes). */
export function locatorBytes(space: number, length: number): number {
  const spaceBytes = space >= SECTOR_SIZE ? space : space * SECTOR_SIZE;
  return roundUp(Math.max(spaceBytes, length), SECTOR_SIZE);
}

/** Every region the file references (header, BAT, locator data, blocks), in no particular order. */
export function referencedRegions(layout: FileLayout): Region[] {
  const { header, headerOffset, bat, blockBytes } = layout;
  const regions: Region[] = [
    { kind: 'header', start: headerOffset, end: headerOffset + HEADER_SIZE },
    { kind: 'bat', start: header.tableOffset, end: header.tableOffset + batSize(header.maxTableEntries) },
  ];
  header.parentLocators.forEach((loc, slot) => {
    if (loc.platformCode === PlatformCode.None || loc.platformDataOffset === 0) return;
    const bytes = locatorBytes(loc.platformDataSpace, loc.platformDataLength);
    if (bytes > 0) regions.push({ kind: 'locator', slot, start: loc.platformDataOffset, end: loc.platformDataOffset + bytes });
  });
  for (let i = 0; i < bat.length; i++) {
    if (bat[i] === BAT_ABSENT) continue;
    const start = bat[i]! * SECTOR_SIZE;
    regions.push({ kind: 'block', index: i, start, end: start + blockBytes });
  }
  return regions;
}

/** First sector-aligned byte past everything the file references: where the next append goes. */
export function dataEnd(layout: FileLayout): number {
  let end = 0;
  for (const r of referencedRegions(layout)) if (r.end > end) end = r.end;
  return roundUp(end, SECTOR_SIZE);
}

export type BatGrowthPlan =
  | { kind: 'none' }
  /** Move these regions (ascending offset) to the end of the file, then extend the BAT in place. */
  | { kind: 'extend'; entries: number; moves: Array<Extract<Region, { kind: 'locator' | 'block' }>> };

/**
 * How to make the BAT hold `entries` entries without moving the BAT: the regions that sit where
 * the longer table would go must move first. Throws when the header is in the way (no writer we
 * know puts it after the BAT).
 */
export function planBatGrowth(layout: FileLayout, entries: number): BatGrowthPlan {
  const { header } = layout;
  if (entries <= header.maxTableEntries) return { kind: 'none' };
  const start = header.tableOffset + batSize(header.maxTableEntries);
  const end = header.tableOffset + batSize(entries);
  const moves: Array<Extract<Region, { kind: 'locator' | 'block' }>> = [];
  for (const r of referencedRegions(layout)) {
    if (r.kind === 'bat' || r.end <= start || r.start >= end) continue;
    if (r.kind === 'header') {
      throw new RangeError(`the dynamic header (byte ${r.start}) sits where the BAT must grow (bytes ${start}..${end})`);
    }
    moves.push(r);
  }
  moves.sort((a, b) => a.start - b.start);
  return { kind: 'extend', entries, moves };
}

export function roundUp(n: number, multiple: number): number {
  return Math.ceil(n / multiple) * multiple;
}

/**
 * The parent's footer after the merge: it becomes the child (uuid, sizes, geometry, timestamp),
 * keeping its own type and creator fields (a dynamic parent stays dynamic, a differencing parent
 * keeps its own parent link in the header).
 */
export function mergedFooter(parent: Footer, child: Footer): Footer {
  return {
    ...parent,
    uuid: child.uuid,
    timestamp: child.timestamp,
    originalSize: child.originalSize,
    currentSize: child.currentSize,
    geometry: { ...child.geometry },
  };
}

export type ResumeAction =
  /** Both files are there: run the remaining steps from the recorded one. */
  | { kind: 'continue' }
  /** The parent is complete but the child is gone: only the rename is left. */
  | { kind: 'rename' }
  /** The rename happened: only the state file is left to remove. */
  | { kind: 'cleanup' }
  | { kind: 'broken'; reason: string };

export interface SeenFiles {
  /** Footer uuid (offset 0) of the file at each name, undefined when the file does not exist. */
  childUuid: string | undefined;
  parentUuid: string | undefined;
}

/** What to do with an unfinished merge, given its state and what is on disk now. */
export function resumeAction(state: MergeState, seen: SeenFiles): ResumeAction {
  if (state.step === 'done') return { kind: 'cleanup' };
  const { childUuid, parentUuid } = seen;
  if (childUuid !== undefined && childUuid !== state.childUuid) {
    return { kind: 'broken', reason: `${state.child} has uuid ${childUuid}, the merge was of ${state.childUuid}` };
  }
  if (childUuid !== undefined && parentUuid !== undefined) {
    const allowed: Record<Exclude<MergeStep, 'done'>, string[]> = {
      blocks: [state.parentUuid],
      footer: [state.parentUuid, state.childUuid],
      rename: [state.childUuid],
    };
    if (allowed[state.step].includes(parentUuid)) return { kind: 'continue' };
    return { kind: 'broken', reason: `${state.parent} has uuid ${parentUuid}, unexpected in step ${state.step}` };
  }
  if (childUuid !== undefined) {
    if (state.step === 'rename') return { kind: 'cleanup' };
    return { kind: 'broken', reason: `${state.parent} is missing although the merge was in step ${state.step}` };
  }
  if (parentUuid !== undefined) {
    if ((state.step === 'rename' || state.step === 'footer') && parentUuid === state.childUuid) return { kind: 'rename' };
    return { kind: 'broken', reason: `${state.child} is missing and ${state.parent} is not yet complete (step ${state.step})` };
  }
  return { kind: 'broken', reason: `neither ${state.child} nor ${state.parent} exists` };
}
