// Writes a new dynamic or differencing VHD, one whole block at a time.
//
// Layout: footer copy @0, header @512, BAT @1536 (padded to a sector), then for a differencing
// disk the parent locator data (W2ru: the relative name, W2ku: the absolute path, both UTF-16LE,
// each padded to a sector), then blocks (bitmap + data, one `writev` each) in the order they
// arrive, then the footer. Metadata is written by `finish`, which fsyncs the temporary file,
// links it to the final name (link(2) never replaces: an existing final file fails the finish
// with EEXIST and stays as it was), removes the temporary and fsyncs the folder: a crash leaves
// either no file or a complete one, plus at worst a `.<name>.<hex>.tmp` for the cleaner.
// While blocks arrive, every WRITEBACK_BYTES written starts an fdatasync in the background (one at
// a time): the kernel would otherwise hold the whole disk dirty until `finish`, whose fsync then
// writes it all while the sender waits. Its failure fails the writer, as the final fsync's would
// (after a failed fsync Linux may mark the pages clean: the error is reported once, so it is kept).
import { randomBytes } from 'node:crypto';
import { link, open, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import {
  BAT_ABSENT,
  DEFAULT_BLOCK_SIZE,
  DiskType,
  FOOTER_SIZE,
  HEADER_SIZE,
  LIMITS,
  PlatformCode,
  SECTOR_SIZE,
  batSize,
  bitmapSize,
  blockCount,
  encodeBat,
  encodeFooter,
  encodeHeader,
  isPowerOfTwo,
  isUuid,
  newBat,
  newFooter,
  newHeader,
  type ParentLocator,
} from './format/index.js';
import { fsyncFolder } from '../files/fsync-folder.js';
import { forEachMarkedRun } from './sector-overlay.js';

export interface VhdWriterOptions {
  /** Final name; data goes to a temporary name in the same folder first. */
  path: string;
  diskType: DiskType.Dynamic | DiskType.Differencing;
  /** Bytes: the exact virtual size. */
  currentSize: number;
  /** Footer uuid (for backups: the uuid of the snapshot VDI the disk came from). */
  uuid: string;
  /** Bytes, a power of two; default 2 MiB. */
  blockSize?: number;
  /** Differencing only. `timestamp` in VHD seconds (since 2000-01-01); `relativeName` like "./x.vhd". */
  parent?: { uuid: string; timestamp: number; relativeName: string };
  /** Footer timestamp; defaults to now. */
  date?: Date;
  /** Bytes written between two background fdatasyncs; default WRITEBACK_BYTES. */
  writebackBytes?: number;
}

export interface VhdWriterResult {
  path: string;
  /** Bytes of the finished file. */
  size: number;
  /** Blocks written. */
  blocks: number;
}

const BAT_OFFSET = FOOTER_SIZE + HEADER_SIZE;

/** Bytes written between two background fdatasyncs. */
export const WRITEBACK_BYTES = 64 * 1024 * 1024;

export class VhdWriter {
  readonly path: string;
  readonly tempPath: string;
  readonly blockSize: number;
  readonly bitmapSize: number;
  readonly currentSize: number;
  #handle: FileHandle | undefined;
  readonly #options: VhdWriterOptions;
  readonly #bat: Uint32Array;
  readonly #locators: { locator: ParentLocator; data: Buffer }[];
  readonly #fullBitmap: Buffer;
  #nextOffset: number;
  #blocks = 0;
  #failed: unknown;
  readonly #pending = new Set<Promise<void>>();
  /** Bytes written since the last background fdatasync started. */
  #unsynced = 0;
  #syncing = false;
  #writebacks = 0;

  private constructor(options: VhdWriterOptions, handle: FileHandle, tempPath: string) {
    this.#options = options;
    this.#handle = handle;
    this.path = resolve(options.path);
    this.tempPath = tempPath;
    this.blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
    this.bitmapSize = bitmapSize(this.blockSize);
    this.currentSize = options.currentSize;
    this.#fullBitmap = Buffer.alloc(this.bitmapSize, 0xff);
    this.#bat = newBat(blockCount(this.currentSize, this.blockSize));
    const locatorStart = BAT_OFFSET + batSize(this.#bat.length);
    this.#locators = options.parent ? parentLocators(this.path, options.parent.relativeName, locatorStart) : [];
    const last = this.#locators.at(-1);
    this.#nextOffset = last ? last.locator.platformDataOffset + last.data.length : locatorStart;
  }

  static async create(options: VhdWriterOptions): Promise<VhdWriter> {
    validateOptions(options);
    const path = resolve(options.path);
    const tempPath = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString('hex')}.tmp`);
    const handle = await open(tempPath, 'wx');
    return new VhdWriter(options, handle, tempPath);
  }

  /** Background fdatasyncs finished so far. */
  get writebacks(): number {
    return this.#writebacks;
  }

  /** Blocks written so far. */
  get blocksWritten(): number {
    return this.#blocks;
  }

  /**
   * Appends one block. `data` is exactly `blockSize` bytes; `bitmap` (`bitmapSize` bytes) defaults
   * to every sector marked. Blocks may come in any order, each index once. Concurrent calls are
   * safe: the file offset is taken before the first await.
   */
  async writeBlock(index: number, data: Buffer, bitmap?: Buffer): Promise<void> {
    const handle = this.#usable();
    if (data.length !== this.blockSize) throw new RangeError(`block ${index}: ${data.length} data bytes, expected ${this.blockSize}`);
    const offset = this.#place(index, bitmap);
    await this.#track(writeBlockSparse(handle, bitmap ?? this.#fullBitmap, data, offset));
    this.#writeback(this.bitmapSize + this.blockSize);
  }

  /**
   * Appends one block given packed: `packed` holds only the sectors `bitmap` marks, in order
   * (the caller checked its length). Each marked run is written from it where it belongs, its
   * all-zero pages skipped; every other sector stays a hole (zeros). No block-sized buffer.
   */
  async writePackedBlock(index: number, bitmap: Buffer, packed: Buffer): Promise<void> {
    const handle = this.#usable();
    const offset = this.#place(index, bitmap);
    await this.#track(writePackedRuns(handle, bitmap, packed, this.blockSize, offset));
    this.#writeback(this.bitmapSize + packed.length);
  }

  /** Counts `bytes` written; past the writeback size starts an fdatasync unless one runs (`finish` awaits it). */
  #writeback(bytes: number): void {
    this.#unsynced += bytes;
    const handle = this.#handle;
    if (this.#unsynced < (this.#options.writebackBytes ?? WRITEBACK_BYTES) || this.#syncing || handle === undefined || this.#failed !== undefined) return;
    this.#unsynced = 0;
    this.#syncing = true;
    const sync: Promise<void> = handle
      .datasync()
      .then(() => void this.#writebacks++)
      .catch((error: unknown) => {
        this.#failed ??= error;
      })
      .finally(() => {
        this.#syncing = false;
        this.#pending.delete(sync);
      });
    this.#pending.add(sync);
  }

  /** Checks the index and bitmap and reserves the block's place in the file; returns its offset. */
  #place(index: number, bitmap: Buffer | undefined): number {
    if (!Number.isInteger(index) || index < 0 || index >= this.#bat.length) {
      throw new RangeError(`block ${index} is outside 0..${this.#bat.length - 1}`);
    }
    if (this.#bat[index] !== BAT_ABSENT) throw new RangeError(`block ${index} was already written`);
    if (bitmap !== undefined && bitmap.length !== this.bitmapSize) {
      throw new RangeError(`block ${index}: ${bitmap.length} bitmap bytes, expected ${this.bitmapSize}`);
    }
    const offset = this.#nextOffset;
    this.#nextOffset += this.bitmapSize + this.blockSize;
    this.#bat[index] = offset / SECTOR_SIZE;
    this.#blocks++;
    return offset;
  }

  async #track(write: Promise<void>): Promise<void> {
    this.#pending.add(write);
    try {
      await write;
    } catch (error) {
      this.#failed ??= error;
      throw error;
    } finally {
      this.#pending.delete(write);
    }
  }

  /**
   * Writes BAT, header and footers, fsyncs, links into place and fsyncs the folder. Fails with the
   * link's EEXIST error (the temporary removed, the existing file untouched) if the name is taken.
   */
  async finish(): Promise<VhdWriterResult> {
    const handle = this.#usable();
    try {
      // Block writes still in flight must land before the metadata that points at them.
      await Promise.allSettled(this.#pending);
      this.#usable();
      const { footer, header } = this.#metadata();
      const size = this.#nextOffset + FOOTER_SIZE;
      const parts: [Buffer, number][] = [
        [footer, 0],
        [header, FOOTER_SIZE],
        [encodeBat(this.#bat), BAT_OFFSET],
        ...this.#locators.map(({ locator, data }): [Buffer, number] => [data, locator.platformDataOffset]),
        [footer, this.#nextOffset],
      ];
      for (const [buf, at] of parts) await writeFully(handle, [buf], at);
      await handle.truncate(size);
      await handle.sync();
      await handle.close();
      this.#handle = undefined;
      await link(this.tempPath, this.path);
      await unlink(this.tempPath);
      await fsyncFolder(dirname(this.path));
      return { path: this.path, size, blocks: this.#blocks };
    } catch (error) {
      await this.abort();
      throw error;
    }
  }

  /** Closes and removes the temporary file; safe to call more than once. */
  async abort(): Promise<void> {
    const handle = this.#handle;
    this.#handle = undefined;
    if (handle) await handle.close().catch(() => undefined);
    await unlink(this.tempPath).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }

  #usable(): FileHandle {
    if (this.#failed !== undefined) throw new Error(`VHD writer for ${this.path} failed earlier`, { cause: this.#failed });
    if (!this.#handle) throw new Error(`VHD writer for ${this.path} is finished or aborted`);
    return this.#handle;
  }

  #metadata(): { footer: Buffer; header: Buffer } {
    const o = this.#options;
    const footer = newFooter({ diskType: o.diskType, currentSize: o.currentSize, uuid: o.uuid.toLowerCase(), date: o.date });
    const header = newHeader({
      tableOffset: BAT_OFFSET,
      maxTableEntries: this.#bat.length,
      blockSize: this.blockSize,
      parentUuid: o.parent?.uuid.toLowerCase(),
      parentTimestamp: o.parent?.timestamp,
      parentUnicodeName: o.parent?.relativeName,
      parentLocators: this.#locators.map((l) => l.locator),
    });
    return { footer: encodeFooter(footer), header: encodeHeader(header) };
  }
}

function validateOptions(o: VhdWriterOptions): void {
  const blockSize = o.blockSize ?? DEFAULT_BLOCK_SIZE;
  if (o.diskType !== DiskType.Dynamic && o.diskType !== DiskType.Differencing) {
    throw new RangeError(`disk type ${o.diskType as number} is not dynamic (3) or differencing (4)`);
  }
  if (!Number.isSafeInteger(o.currentSize) || o.currentSize <= 0 || o.currentSize > LIMITS.maxVirtualSize) {
    throw new RangeError(`size ${o.currentSize} is outside 1..${LIMITS.maxVirtualSize} bytes`);
  }
  if (!isPowerOfTwo(blockSize) || blockSize < LIMITS.minBlockSize || blockSize > LIMITS.maxBlockSize) {
    throw new RangeError(`block size ${blockSize} is not a power of two in ${LIMITS.minBlockSize}..${LIMITS.maxBlockSize}`);
  }
  if (Math.ceil(o.currentSize / blockSize) > LIMITS.maxBatEntries) {
    throw new RangeError(`${o.currentSize} bytes in blocks of ${blockSize} need more than ${LIMITS.maxBatEntries} BAT entries; use larger blocks`);
  }
  if (!isUuid(o.uuid.toLowerCase())) throw new RangeError(`uuid ${JSON.stringify(o.uuid)} is not a UUID`);
  if (o.diskType === DiskType.Differencing) {
    if (!o.parent) throw new RangeError('a differencing disk needs a parent');
    if (!isUuid(o.parent.uuid.toLowerCase())) throw new RangeError(`parent uuid ${JSON.stringify(o.parent.uuid)} is not a UUID`);
    if (o.parent.relativeName === '' || o.parent.relativeName.length > 255) {
      throw new RangeError(`parent name ${JSON.stringify(o.parent.relativeName)} must be 1..255 characters`);
    }
    if (!Number.isInteger(o.parent.timestamp) || o.parent.timestamp < 0 || o.parent.timestamp > 0xffffffff) {
      throw new RangeError(`parent timestamp ${o.parent.timestamp} is not a uint32`);
    }
  } else if (o.parent) {
    throw new RangeError('a dynamic disk has no parent');
  }
}

/** W2ru (relative) and W2ku (absolute) locators, UTF-16LE, each padded to whole sectors. */
function parentLocators(childPath: string, relativeName: string, start: number): { locator: ParentLocator; data: Buffer }[] {
  const absolute = resolve(dirname(childPath), relativeName);
  const out: { locator: ParentLocator; data: Buffer }[] = [];
  let at = start;
  for (const [platformCode, text] of [
    [PlatformCode.W2ru, relativeName],
    [PlatformCode.W2ku, absolute],
  ] as const) {
    const encoded = Buffer.from(text, 'utf16le');
    const sectors = Math.max(1, Math.ceil(encoded.length / SECTOR_SIZE));
    const data = Buffer.alloc(sectors * SECTOR_SIZE);
    encoded.copy(data);
    out.push({
      locator: { platformCode, platformDataSpace: sectors, platformDataLength: encoded.length, platformDataOffset: at },
      data,
    });
    at += data.length;
  }
  return out;
}

/** Bytes of a page the writer leaves unwritten when all zero: the file system's block. */
export const ZERO_PAGE_SIZE = 4096;
const ZERO_PAGE = Buffer.alloc(ZERO_PAGE_SIZE);

/**
 * Runs `[start, end)` of `data` holding a non-zero byte, in whole pages (the last page may be
 * short). Zero pages between them are not written: the file is new, so they stay holes that read
 * back as zeros and take no space (a full disk's zero regions, a delta's unwritten sectors).
 */
export function nonZeroRuns(data: Buffer): Array<[number, number]> {
  const runs: Array<[number, number]> = [];
  let start = -1;
  for (let at = 0; at < data.length; at += ZERO_PAGE_SIZE) {
    const end = Math.min(at + ZERO_PAGE_SIZE, data.length);
    const zero = data.compare(ZERO_PAGE, 0, end - at, at, end) === 0;
    if (!zero && start < 0) start = at;
    if (zero && start >= 0) {
      runs.push([start, at]);
      start = -1;
    }
  }
  if (start >= 0) runs.push([start, data.length]);
  return runs;
}

/** The block's bitmap then its data at `position`, all-zero pages of the data skipped (holes). */
async function writeBlockSparse(handle: FileHandle, bitmap: Buffer, data: Buffer, position: number): Promise<void> {
  const runs = nonZeroRuns(data);
  const dataAt = position + bitmap.length;
  if (runs.length === 1 && runs[0]![0] === 0 && runs[0]![1] === data.length) {
    await writeFully(handle, [bitmap, data], position);
    return;
  }
  const first = runs[0];
  const writes: Array<Promise<void>> = [];
  if (first !== undefined && first[0] === 0) {
    writes.push(writeFully(handle, [bitmap, data.subarray(0, first[1])], position));
    runs.shift();
  } else {
    writes.push(writeFully(handle, [bitmap], position));
  }
  for (const [start, end] of runs) writes.push(writeFully(handle, [data.subarray(start, end)], dataAt + start));
  const results = await Promise.allSettled(writes);
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
}

/** The bitmap at `position`, then each marked run of the packed data at its sector, zero pages skipped. */
async function writePackedRuns(handle: FileHandle, bitmap: Buffer, packed: Buffer, blockSize: number, position: number): Promise<void> {
  const dataAt = position + bitmap.length;
  const writes: Array<Promise<void>> = [writeFully(handle, [bitmap], position)];
  let at = 0;
  forEachMarkedRun(bitmap, blockSize, (first, end) => {
    const length = (end - first) * SECTOR_SIZE;
    if (at + length > packed.length) throw new RangeError(`packed data of ${packed.length} bytes is shorter than the sectors its bitmap marks`);
    const run = packed.subarray(at, at + length);
    for (const [start, stop] of nonZeroRuns(run)) writes.push(writeFully(handle, [run.subarray(start, stop)], dataAt + first * SECTOR_SIZE + start));
    at += length;
  });
  const results = await Promise.allSettled(writes);
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
}

async function writeFully(handle: FileHandle, buffers: Buffer[], position: number): Promise<void> {
  let total = 0;
  for (const b of buffers) total += b.length;
  const { bytesWritten } = await handle.writev(buffers, position);
  if (bytesWritten === total) return;
  // Short write (rare, e.g. a signal): finish the remainder with plain writes.
  let done = bytesWritten;
  const all = Buffer.concat(buffers);
  while (done < total) {
    const { bytesWritten: n } = await handle.write(all, done, total - done, position + done);
    done += n;
  }
}
