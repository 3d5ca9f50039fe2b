// The expected content of every date of a test chain, computed without the VHD module: each date
// is a map block index → the 4 KiB the virtual disk holds there (blocks never written read as
// zeros and are left out). Deltas overlay the previous date sector by sector where their bitmap
// marks a sector (MSB first, as the VHD format says), so partially marked blocks are modelled too.
//
// The generated chain is shaped for the reads-during-merges test (storage-merge-reads.test.ts):
// - the full holds blocks FULL_ONLY (never rewritten by a delta, so always read from the oldest
//   file) and blocks in the shared range that deltas overwrite;
// - the first delta fills LOW, so every later date has LOW.length blocks below FULL_ONLY: a
//   streamed read reaches the full's first blocks only after that many, well past the ~32 blocks
//   the server reads ahead of a paused reader with gRPC's default window (disk-read-probe.ts);
// - every GROW_EVERY-th delta grows the disk by GROW_BLOCKS, which makes the merge grow the
//   full's BAT in place and move the blocks that sit right after it (the full's FULL_ONLY ones).
import { createHash, randomUUID } from 'node:crypto';
import { SeededBytes } from './vhd-raw-image.js';

export const BLOCK_SIZE = 4096;
const SECTOR = 512;
const SECTORS = BLOCK_SIZE / SECTOR;
const BITMAP_BYTES = 512;
export const START_BLOCKS = 512;
/** 40 BAT sectors: growing into them moves the four or five blocks that follow the BAT. */
export const GROW_BLOCKS = 128 * 40;
export const GROW_EVERY = 4;
const LOW = range(0, 48);
const FULL_ONLY = range(200, 260).filter((i) => i % 2 === 0);
const SHARED_FROM = 300;
const SHARED_TO = 360;

export interface UploadBlock {
  index: number;
  data: Buffer;
  /** Absent: every sector marked. */
  bitmap?: Buffer;
}

/** One backup of the chain: what was uploaded and what the disk holds at that date. */
export interface ModelDate {
  n: number;
  backupId: string;
  uuid: string;
  size: number;
  upload: UploadBlock[];
  content: Map<number, Buffer>;
}

export class ChainModel {
  readonly dates: ModelDate[] = [];
  readonly #random: SeededBytes;

  constructor(seed: string) {
    this.#random = new SeededBytes(seed);
  }

  /** Adds the next date (the first is the full) and returns it; `scale` multiplies a delta's picks. */
  next(scale = 1): ModelDate {
    const n = this.dates.length;
    const previous = this.dates[n - 1];
    const size = (previous?.size ?? START_BLOCKS * BLOCK_SIZE) + (n > 1 && n % GROW_EVERY === 0 ? GROW_BLOCKS * BLOCK_SIZE : 0);
    const upload = this.#blocksOf(n, size / BLOCK_SIZE, scale);
    const content = new Map(previous?.content ?? []);
    for (const block of upload) content.set(block.index, overlay(content.get(block.index), block));
    const date: ModelDate = { n, backupId: backupIdOf(n), uuid: randomUUID(), size, upload, content };
    this.dates.push(date);
    return date;
  }

  #blocksOf(n: number, blocks: number, scale: number): UploadBlock[] {
    if (n === 0) return [...FULL_ONLY, ...range(SHARED_FROM, SHARED_TO)].map((i) => ({ index: i, data: stamped(n, i) }));
    if (n === 1) return LOW.map((i) => ({ index: i, data: stamped(n, i) }));
    const picks = new Set<number>();
    const pick = (from: number, to: number, count: number): void => {
      for (let k = 0; k < count * scale; k++) picks.add(from + this.#random.int(to - from));
    };
    pick(SHARED_FROM, SHARED_TO, 16);
    pick(SHARED_FROM, blocks, 3);
    pick(0, LOW.length, 8);
    pick(LOW.length, FULL_ONLY[0]!, 4);
    if (blocks > START_BLOCKS) pick(blocks - GROW_BLOCKS, blocks, 4);
    return [...picks].sort((a, b) => a - b).map((index) => this.#block(n, index));
  }

  /** One block in four is partially marked; its unmarked sectors carry junk that must never show. */
  #block(n: number, index: number): UploadBlock {
    const data = stamped(n, index);
    if (this.#random.int(4) !== 0) return { index, data };
    const mask = 1 + this.#random.int(254);
    const bitmap = Buffer.alloc(BITMAP_BYTES);
    bitmap[0] = mask;
    for (let s = 0; s < SECTORS; s++) if (!marked(bitmap, s)) data.fill(0xee, s * SECTOR, (s + 1) * SECTOR);
    return { index, data, bitmap };
  }
}

/** `base` (or zeros) with the block's marked sectors laid over it. */
function overlay(base: Buffer | undefined, block: UploadBlock): Buffer {
  if (!block.bitmap) return block.data;
  const out = base ? Buffer.from(base) : Buffer.alloc(BLOCK_SIZE);
  for (let s = 0; s < SECTORS; s++) if (marked(block.bitmap, s)) block.data.copy(out, s * SECTOR, s * SECTOR, (s + 1) * SECTOR);
  return out;
}

function marked(bitmap: Buffer, sector: number): boolean {
  return ((bitmap[sector >> 3]! >> (7 - (sector & 7))) & 1) === 1;
}

/** Every sector names its date, block and sector, so a sector from the wrong place never matches. */
function stamped(n: number, index: number): Buffer {
  const out = Buffer.alloc(BLOCK_SIZE);
  for (let s = 0; s < SECTORS; s++) {
    createHash('sha256').update(`${n}:${index}:${s}`).digest().copy(out, s * SECTOR);
    out.writeUInt32BE(n, s * SECTOR + 32);
    out.writeUInt32BE(index, s * SECTOR + 36);
  }
  return out;
}

function backupIdOf(n: number): string {
  const at = new Date(Date.UTC(2026, 10, 1) + n * 3_600_000).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${at}-${n === 0 ? 'full' : `d${n}`}`;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, k) => from + k);
}

/**
 * What a read must reproduce, independent of which blocks a reader calls allocated: the size and,
 * ascending, each non-zero block's index and SHA-256. Feed blocks in any order; `hex()` sorts.
 */
export class ContentDigest {
  readonly #blocks = new Map<number, Buffer>();

  add(index: number, data: Buffer): void {
    if (data.every((b) => b === 0)) this.#blocks.delete(index);
    else this.#blocks.set(index, createHash('sha256').update(data).digest());
  }

  hex(size: number): string {
    const hash = createHash('sha256').update(`size ${size}\n`);
    const index = Buffer.alloc(4);
    for (const i of [...this.#blocks.keys()].sort((a, b) => a - b)) {
      index.writeUInt32BE(i);
      hash.update(index).update(this.#blocks.get(i)!);
    }
    return hash.digest('hex');
  }
}

export function expectedDigest(date: ModelDate): string {
  const digest = new ContentDigest();
  for (const [index, data] of date.content) digest.add(index, data);
  return digest.hex(date.size);
}
