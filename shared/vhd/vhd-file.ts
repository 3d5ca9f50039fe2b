// Random access to one dynamic or differencing VHD file.
//
// Opening reads the footer copy at offset 0 (so a file whose trailing footer was overwritten by an
// interrupted append is still readable), the header, and the BAT, and validates the layout before
// any block is read: BAT entries inside the file, not overlapping each other or the metadata.
// The trailing footer is read too and reported (`trailingFooter`, `trailingFooterProblem`) for
// `check`. A block is read with one `read` into a pre-sized buffer: bitmap and data are contiguous
// (or, for a reader that needs only the marked sectors and reads through the page cache, its
// bitmap and then each marked run).
// Opened with `directReads`, block reads into aligned buffers bypass the page cache (direct-io.ts).
import { open, type FileHandle } from 'node:fs/promises';
import { resolve } from 'node:path';
import { dynamicBlockOrder } from './block-layout.js';
import { BAT_ABSENT, DiskType, FOOTER_SIZE, HEADER_SIZE, SECTOR_SIZE, VhdFormatError, batSize, bitmapSize, blockCount, decodeBat, decodeFooter, decodeHeader, type DynamicHeader, type Footer } from './format/index.js';
import { canReadDirect, isAlignmentRefusal, openDirect } from './direct-io.js';
import { forEachMarkedRun } from './sector-overlay.js';
import type { VhdBlock, VhdDescription } from './types.js';

export interface VhdFileOptions {
  /** Open read-write (for merges that update the file in place). Default read-only. */
  writable?: boolean;
  /**
   * Read blocks past the page cache where the file system allows it, into buffers from
   * `alignedBuffer` (others are read through the cache). For a read-only file read once, cold.
   */
  directReads?: boolean;
}

/** Reads of marked runs one partly marked block may cost; with more runs the block is read whole. */
const MAX_MARKED_READS = 16;

interface Opened {
  footer: Footer;
  header: DynamicHeader;
  bat: Uint32Array;
  fileSize: number;
  trailingFooter: Footer | undefined;
  trailingFooterProblem: string | undefined;
}

export class VhdFile implements VhdDescription {
  readonly path: string;
  readonly footer: Footer;
  readonly header: DynamicHeader;
  readonly bat: Uint32Array;
  readonly blockSize: number;
  readonly bitmapSize: number;
  readonly currentSize: number;
  /** ceil(currentSize / blockSize). The BAT may hold more entries. */
  readonly blockCount: number;
  /** Bytes of the file when it was opened. */
  readonly fileSize: number;
  /** The footer at the end of the file, when it is valid. */
  readonly trailingFooter: Footer | undefined;
  /** Why the trailing footer is missing or does not match the copy at offset 0; undefined when fine. */
  readonly trailingFooterProblem: string | undefined;
  /** The open file; for in-place updates of a writable file (merges). */
  readonly handle: FileHandle;
  /** The handle of direct reads, when the file system offers them. */
  readonly #direct: FileHandle | undefined;
  /** Set when the device refused a sector-aligned direct read (it wants 4 KiB). */
  #directRefused = false;
  #closed = false;

  private constructor(path: string, handle: FileHandle, o: Opened, direct: FileHandle | undefined) {
    this.path = path;
    this.handle = handle;
    this.#direct = direct;
    this.footer = o.footer;
    this.header = o.header;
    this.bat = o.bat;
    this.fileSize = o.fileSize;
    this.trailingFooter = o.trailingFooter;
    this.trailingFooterProblem = o.trailingFooterProblem;
    this.blockSize = o.header.blockSize;
    this.bitmapSize = bitmapSize(o.header.blockSize);
    this.currentSize = o.footer.currentSize;
    this.blockCount = blockCount(o.footer.currentSize, o.header.blockSize);
  }

  static async open(path: string, options: VhdFileOptions = {}): Promise<VhdFile> {
    const full = resolve(path);
    if (options.writable && options.directReads) throw new RangeError('direct reads are for read-only files');
    const handle = await open(full, options.writable ? 'r+' : 'r');
    let direct: FileHandle | undefined;
    try {
      const opened = await readMetadata(handle, full);
      direct = options.directReads ? await openDirect(full) : undefined;
      return new VhdFile(full, handle, opened, direct);
    } catch (error) {
      await Promise.all([handle.close(), direct?.close()]);
      throw error;
    }
  }

  /** True while block reads into aligned buffers bypass the page cache. */
  get readsDirect(): boolean {
    return this.#direct !== undefined && !this.#directRefused;
  }

  /** Fills `buf` from `offset` of the file: directly when it can, else through the page cache. */
  async #readData(buf: Buffer, offset: number, where: string): Promise<void> {
    if (this.#direct !== undefined && !this.#directRefused && canReadDirect(buf, offset)) {
      try {
        return await readFully(this.#direct, buf, offset, where);
      } catch (error) {
        if (!isAlignmentRefusal(error)) throw error;
        // The device wants larger alignment than a sector: read through the cache from now on.
        this.#directRefused = true;
      }
    }
    await readFully(this.handle, buf, offset, where);
  }

  get isDifferencing(): boolean {
    return this.footer.diskType === DiskType.Differencing;
  }

  hasBlock(index: number): boolean {
    return index >= 0 && index < this.bat.length && this.bat[index] !== BAT_ABSENT;
  }

  /** Indexes of allocated blocks, ascending. */
  allocatedBlocks(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.bat.length; i++) if (this.bat[i] !== BAT_ABSENT) out.push(i);
    return out;
  }

  /** Absolute byte offset of a block's bitmap, or undefined when the block is absent. */
  blockOffset(index: number): number | undefined {
    return this.hasBlock(index) ? this.bat[index]! * SECTOR_SIZE : undefined;
  }

  /**
   * The block's bitmap and data (views of one buffer: `into`, at least bitmapSize + blockSize
   * bytes, when given; else a fresh one), or undefined when absent.
   */
  async readBlock(index: number, into?: Buffer): Promise<VhdBlock | undefined> {
    const offset = this.blockOffset(index);
    if (offset === undefined) return undefined;
    const size = this.bitmapSize + this.blockSize;
    const buf = blockBuffer(into, size);
    await this.#readData(buf, offset, `${this.path}: block ${index}`);
    return { index, bitmap: buf.subarray(0, this.bitmapSize), data: buf.subarray(this.bitmapSize) };
  }

  /**
   * The block's bitmap and the data of the sectors it marks; unmarked sectors read as zeros
   * whatever the file holds there. A partly marked block costs a read per run of marked sectors
   * instead of one of the whole block: the unmarked ranges of a sparse delta are holes, and
   * reading them only has the kernel fill pages with zeros; a block of more than 16 runs is read
   * whole and its gaps zeroed, so a bitmap cannot make one block cost thousands of reads. For a
   * reader that uses marked sectors only (a chain folding a block); a check of the stored bytes
   * needs `readBlock`. `into` as for `readBlock`. The runs are read concurrently. With
   * `zeroUnmarked: false` the unmarked sectors are left as the buffer had them (a reader that
   * copies out only marked sectors, as a chain does, saves zeroing most of a 2 MiB block per
   * sparse layer).
   *
   * Read directly (past the page cache), the block is read whole in ONE read, bitmap and data:
   * there each read costs a round of the thread pool and a request to the device (about 40 µs of
   * CPU on this project's VMs), while the kernel fills a sparse delta's holes with zeros without
   * reading the disk. A restore of a 20-deep chain whose scattered deltas mark a few extents in
   * nearly every block made 46 000 reads instead of 15 000, and its storage agent spent 6.7 CPU s
   * instead of 5.5 (docs/performance-notes.md).
   */
  async readMarked(index: number, into?: Buffer, options: { zeroUnmarked?: boolean } = {}): Promise<VhdBlock | undefined> {
    const offset = this.blockOffset(index);
    if (offset === undefined) return undefined;
    const buf = blockBuffer(into, this.bitmapSize + this.blockSize);
    const bitmap = buf.subarray(0, this.bitmapSize);
    const data = buf.subarray(this.bitmapSize);
    const where = `${this.path}: block ${index}`;
    if (this.readsDirect && canReadDirect(buf, offset)) {
      await this.#readData(buf, offset, where);
      if (options.zeroUnmarked !== false) zeroUnmarked(bitmap, data, this.blockSize);
      return { index, bitmap, data };
    }
    await this.#readData(bitmap, offset, where);
    const start = offset + this.bitmapSize;
    const sectors = this.blockSize / SECTOR_SIZE;
    if (bitmap.subarray(0, sectors / 8).every((byte) => byte === 0xff)) {
      await this.#readData(data, start, where);
      return { index, bitmap, data };
    }
    const runs: Array<[number, number]> = [];
    forEachMarkedRun(bitmap, this.blockSize, (first, end) => runs.push([first, end]));
    if (runs.length > MAX_MARKED_READS) {
      // Many short runs (or a bitmap made to have them): one read of the whole block.
      await this.#readData(data, start, where);
    } else {
      await Promise.all(runs.map(([first, end]) => this.#readData(data.subarray(first * SECTOR_SIZE, end * SECTOR_SIZE), start + first * SECTOR_SIZE, where)));
    }
    if (options.zeroUnmarked !== false) zeroUnmarked(bitmap, data, this.blockSize);
    return { index, bitmap, data };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([this.handle.close(), this.#direct?.close()]);
  }
}

/** Zeros over the sectors of `data` that `bitmap` does not mark. */
function zeroUnmarked(bitmap: Buffer, data: Buffer, blockSize: number): void {
  let at = 0;
  forEachMarkedRun(bitmap, blockSize, (first, end) => {
    data.fill(0, at * SECTOR_SIZE, first * SECTOR_SIZE);
    at = end;
  });
  data.fill(0, at * SECTOR_SIZE);
}

/** `size` bytes for a block read: the start of `into` when given (refused when too small), else a fresh buffer. */
function blockBuffer(into: Buffer | undefined, size: number): Buffer {
  if (into === undefined) return Buffer.allocUnsafe(size);
  if (into.length < size) throw new RangeError(`a block read needs ${size} bytes, the buffer given has ${into.length}`);
  return into.subarray(0, size);
}

async function readMetadata(handle: FileHandle, path: string): Promise<Opened> {
  const fileSize = (await handle.stat()).size;
  if (fileSize < FOOTER_SIZE + HEADER_SIZE) {
    throw new VhdFormatError(path, `${fileSize} bytes is too small for a dynamic VHD`);
  }
  const footer = await readFooter(handle, path, 0, fileSize);
  const dataOffset = footer.dataOffset!;
  if (dataOffset < FOOTER_SIZE || dataOffset + HEADER_SIZE > fileSize) {
    throw new VhdFormatError(`${path}: footer at offset 0`, `header offset ${dataOffset} is outside the file (${fileSize} bytes)`);
  }
  const headerBuf = await readAt(handle, dataOffset, HEADER_SIZE, `${path}: dynamic header`);
  const header = decodeHeader(headerBuf, footer.currentSize, `${path}: dynamic header at offset ${dataOffset}`);
  const tableBytes = batSize(header.maxTableEntries);
  if (header.tableOffset < FOOTER_SIZE || header.tableOffset + tableBytes > fileSize) {
    throw new VhdFormatError(
      `${path}: dynamic header`,
      `BAT at bytes ${header.tableOffset}..${header.tableOffset + tableBytes} is outside the file (${fileSize} bytes)`,
    );
  }
  const batBuf = await readAt(handle, header.tableOffset, tableBytes, `${path}: BAT`);
  const bat = decodeBat(batBuf, header.maxTableEntries);
  dynamicBlockOrder(bat, { dataOffset, header, where: path, end: fileSize });
  const trailing = await checkTrailingFooter(handle, path, fileSize, footer);
  return { footer, header, bat, fileSize, ...trailing };
}

async function readFooter(handle: FileHandle, path: string, offset: number, fileSize: number): Promise<Footer> {
  const buf = await readAt(handle, offset, FOOTER_SIZE, `${path}: footer at offset ${offset}`);
  let footer: Footer;
  try {
    footer = decodeFooter(buf, `${path}: footer at offset ${offset}`);
  } catch (error) {
    // A fixed disk has no copy at offset 0: say so rather than "bad cookie".
    const tail = await readAt(handle, fileSize - FOOTER_SIZE, FOOTER_SIZE, path).catch(() => undefined);
    if (tail && tail.toString('latin1', 0, 8) === 'conectix' && tail.readUInt32BE(60) === DiskType.Fixed) {
      throw new VhdFormatError(path, 'fixed VHDs are not supported; convert it to a dynamic VHD first', { cause: error });
    }
    throw error;
  }
  if (footer.diskType === DiskType.Fixed) {
    throw new VhdFormatError(`${path}: footer at offset ${offset}`, 'fixed VHDs are not supported');
  }
  return footer;
}

async function checkTrailingFooter(
  handle: FileHandle,
  path: string,
  fileSize: number,
  footer: Footer,
): Promise<{ trailingFooter: Footer | undefined; trailingFooterProblem: string | undefined }> {
  const at = fileSize - FOOTER_SIZE;
  try {
    const buf = await readAt(handle, at, FOOTER_SIZE, `${path}: trailing footer`);
    const trailingFooter = decodeFooter(buf, `trailing footer at offset ${at}`);
    const same =
      trailingFooter.uuid === footer.uuid &&
      trailingFooter.diskType === footer.diskType &&
      trailingFooter.currentSize === footer.currentSize &&
      trailingFooter.dataOffset === footer.dataOffset;
    const problem = same ? undefined : `trailing footer at offset ${at} does not match the copy at offset 0`;
    return { trailingFooter, trailingFooterProblem: problem };
  } catch (error) {
    return { trailingFooter: undefined, trailingFooterProblem: (error as Error).message };
  }
}

async function readAt(handle: FileHandle, offset: number, length: number, where: string): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  await readFully(handle, buf, offset, where);
  return buf;
}

/** Fills `buf` from `offset`; a short file is a format error naming `where`. */
export async function readFully(handle: FileHandle, buf: Buffer, offset: number, where: string): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesRead } = await handle.read(buf, done, buf.length - done, offset + done);
    if (bytesRead === 0) {
      throw new VhdFormatError(where, `file ends at byte ${offset + done}, ${buf.length - done} bytes short`);
    }
    done += bytesRead;
  }
}
