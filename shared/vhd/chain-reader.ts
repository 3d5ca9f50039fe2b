// A read-only view over a differencing chain, newest disk first: for each block, the newest data.
//
// Opening follows `header.parentUnicodeName` (relative to the child's folder) until a dynamic
// disk, checking at each link that the parent's footer uuid is the child's `header.parentUuid`
// (except during the last steps of a merge, when the merge state file explains the mismatch).
// Reading a block takes the newest layer that has it; when that layer's bitmap marks every sector
// its data is returned as is (the common case: XAPI writes whole blocks). Otherwise the block is
// assembled sector by sector from the layers below (sector-overlay.ts); sectors no layer marks
// read as zeros, as do unmarked sectors of the dynamic base.
//
// A reader may carry a BlockCheck (`withBlockCheck`): every raw block read from a chain file
// (stored bitmap + data, exactly as the file holds it) is handed to it before it is used, newest
// layer first. Each contributing block is read once and checked once: a full block of the newest
// layer alone, or for a partially marked block every layer down to the one that completes it.
// The VHD module knows nothing of what the check compares against (the storage agent's `.sums`).
// Only the marked sectors of a layer's block are used (VhdFile.readMarked: read through the page
// cache, the holes of a sparse delta are skipped; read directly, the block is one read), and its
// unmarked sectors are not zeroed (only marked sectors are copied out), unless the check says it
// needs the stored bytes of the unmarked ones too.
//
// Opened with `directReads`, every layer reads its blocks past the page cache where the file
// system allows (direct-io.ts), through the reader's own aligned layer buffers: for a chain read
// once, cold (a restore), which the page cache would only fill and evict. With `layerBuffers` the
// reader makes at most that many; a read that needs one while all are taken waits for one, so
// many blocks read at once cost a block buffer each, not a block and a layer buffer each.
import { basename, dirname, resolve } from 'node:path';
import { VhdChainError } from './chain-error.js';
import { alignedBuffer } from './direct-io.js';
import { DiskType, SECTOR_SIZE } from './format/index.js';
import { mergeExplainsUuidMismatch, readMergeState } from './merge-state.js';
import { fileIdentity, locateParent } from './parent-locator.js';
import { forEachMarkedRun, isFullPrefix, overlaySectors } from './sector-overlay.js';
import type { VhdBlock } from './types.js';
import { VhdFile } from './vhd-file.js';

/** Checks raw blocks as a ChainReader reads them; throwing (or rejecting) fails the read. */
export interface BlockCheck {
  /**
   * `layer` is the block's file: its position in `ChainReader.disks` (0 = the newest). Unless
   * `needsStoredBytes` asked for the stored bytes, only the sectors the bitmap marks hold the
   * file's data; the others hold whatever the reader's buffer held (they are not read).
   */
  check(layer: number, block: VhdBlock): void | Promise<void>;
  /**
   * True when checking block `index` of `layer` needs the bytes its unmarked sectors hold (a
   * checksum over the whole stored block), so the reader reads it whole. Absent: never.
   */
  needsStoredBytes?(layer: number, index: number): boolean | Promise<boolean>;
  /** Called by `ChainReader.close`; releases what the check holds. */
  close?(): Promise<void>;
}

export interface ChainReaderOptions {
  /** Read blocks past the page cache where the file system allows it (VhdFileOptions.directReads). */
  directReads?: boolean;
  /**
   * The most layer buffers (one layer's bitmap and block, ~2 MiB) the reader holds at once; a
   * read that needs one while all are in use waits for one. Default: no limit (one per read in
   * flight that assembles a block from its layers).
   */
  layerBuffers?: number;
  /**
   * Where layer buffers come from with `directReads` (default: new `alignedBuffer`s), and where
   * `close` gives them back: a pool that outlives the reader (AlignedBufferPool).
   */
  bufferPool?: { take(size: number): Buffer; give(buffer: Buffer): void };
}

/** Longest chain followed; a longer one is treated as a loop. */
export const MAX_CHAIN_DEPTH = 1000;

export class ChainReader {
  /** [child, parent, …, base]; the base is dynamic. */
  readonly disks: VhdFile[];
  /** Bytes: the newest disk's virtual size. */
  readonly currentSize: number;
  readonly blockSize: number;
  /** ceil(currentSize / blockSize). */
  readonly blockCount: number;
  readonly #bitmapBytes: number;
  readonly #full: Buffer;
  readonly #check: BlockCheck | undefined;
  readonly #directReads: boolean;
  /** Layer buffers (bitmap + block) of `readBlock(index, into)` calls, kept for the next. */
  readonly #scratch: Buffer[] = [];
  readonly #layerBufferLimit: number;
  #layerBuffersMade = 0;
  /** Reads waiting for a layer buffer, first come first served. */
  readonly #layerBufferWaiters: Array<(buffer: Buffer) => void> = [];
  readonly #pool: ChainReaderOptions['bufferPool'];

  private constructor(disks: VhdFile[], directReads: boolean, layerBuffers: number, pool: ChainReaderOptions['bufferPool'], check?: BlockCheck) {
    this.disks = disks;
    this.#check = check;
    this.#directReads = directReads;
    this.#layerBufferLimit = layerBuffers;
    this.#pool = pool;
    this.currentSize = disks[0]!.currentSize;
    this.blockSize = disks[0]!.blockSize;
    this.blockCount = disks[0]!.blockCount;
    this.#bitmapBytes = this.blockSize / SECTOR_SIZE / 8;
    this.#full = Buffer.alloc(this.#bitmapBytes, 0xff);
  }

  static async open(path: string, options: ChainReaderOptions = {}): Promise<ChainReader> {
    const disks: VhdFile[] = [];
    const directReads = options.directReads === true;
    const layerBuffers = options.layerBuffers ?? Number.POSITIVE_INFINITY;
    if (!(layerBuffers >= 1) || (Number.isFinite(layerBuffers) && !Number.isInteger(layerBuffers))) {
      throw new RangeError(`layerBuffers ${layerBuffers} is not a whole number ≥ 1`);
    }
    try {
      let disk = await VhdFile.open(path, { directReads });
      disks.push(disk);
      const seen = new Set([await fileIdentity(disk.path)]);
      while (disk.footer.diskType === DiskType.Differencing) {
        disk = await openParent(disk, seen, directReads);
        disks.push(disk);
        if (disks.length > MAX_CHAIN_DEPTH) throw new VhdChainError(path, `chain is deeper than ${MAX_CHAIN_DEPTH} disks`);
      }
      return new ChainReader(disks, directReads, layerBuffers, options.bufferPool);
    } catch (error) {
      await Promise.all(disks.map((d) => d.close()));
      throw error;
    }
  }

  /**
   * A reader over the same open files whose every block read passes through `check`. Close
   * only one of the two readers (the files are shared); closing it also closes the check.
   */
  withBlockCheck(check: BlockCheck): ChainReader {
    return new ChainReader(this.disks, this.#directReads, this.#layerBufferLimit, this.#pool, check);
  }

  /** The newest disk, whose name and uuid the chain goes by. */
  get head(): VhdFile {
    return this.disks[0]!;
  }

  /** True when any layer has the block. */
  isAllocated(index: number): boolean {
    return this.disks.some((d) => d.hasBlock(index));
  }

  /** Indexes below `blockCount` allocated in any layer, ascending. */
  allocatedBlocks(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.blockCount; i++) if (this.isAllocated(i)) out.push(i);
    return out;
  }

  /**
   * `blockSize` bytes of the newest data of block `index` (zeros where nothing is allocated).
   * With `into` (at least `blockSize` bytes) the block is written at its start and that view
   * returned, and the layers are read through buffers the reader keeps: a caller reading block
   * after block into one buffer allocates nothing per block (fresh 2 MiB buffers per block kept
   * V8's collector busy at commit: docs/performance-notes.md).
   */
  async readBlock(index: number, into?: Buffer): Promise<Buffer> {
    this.#checkIndex(index);
    if (into !== undefined && into.length < this.blockSize) throw new RangeError(`a ${this.blockSize}-byte block does not fit in ${into.length} bytes`);
    return this.#assemble(index, into?.subarray(0, this.blockSize), undefined);
  }

  /**
   * Block `index` read in place: `room` (at least bitmap + block bytes, as a VHD stores a block)
   * takes the newest layer's stored bitmap and block as they are, and the block's newest data is
   * returned as the view after the bitmap. A block that layer marks whole costs no copy (and, with
   * direct reads and `room` from `alignedBuffer`, no page cache); the first bytes hold that
   * layer's stored bitmap afterwards, for the caller to overwrite.
   */
  async readBlockInPlace(index: number, room: Buffer): Promise<Buffer> {
    this.#checkIndex(index);
    const size = this.#bitmapRoom + this.blockSize;
    if (room.length < size) throw new RangeError(`a ${size}-byte stored block does not fit in ${room.length} bytes`);
    return this.#assemble(index, room.subarray(this.#bitmapRoom, size), room.subarray(0, size));
  }

  #checkIndex(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.blockCount) {
      throw new RangeError(`block ${index} is outside 0..${this.blockCount - 1}`);
    }
  }

  /** Bytes a layer's stored bitmap takes before its block (the same in every layer: one block size). */
  get #bitmapRoom(): number {
    return this.disks[0]!.bitmapSize;
  }

  /** The block into `out` (a fresh buffer when undefined); the newest layer read into `room` when given, else through a kept buffer. */
  async #assemble(index: number, out: Buffer | undefined, room: Buffer | undefined): Promise<Buffer> {
    let layer = this.disks.findIndex((d) => d.hasBlock(index));
    if (layer < 0) return out === undefined ? Buffer.alloc(this.blockSize) : out.fill(0);
    let scratch: Buffer | undefined;
    const kept = async (): Promise<Buffer | undefined> => (out === undefined ? undefined : (scratch ??= await this.#takeLayerBuffer()));
    try {
      const first = (await this.#readLayer(layer, index, room ?? (await kept())))!;
      if (isFullPrefix(first.bitmap, this.#full, this.#bitmapBytes)) {
        if (out === undefined) return first.data;
        if (room === undefined) first.data.copy(out);
        return out;
      }
      // Only marked sectors are copied in; what no layer marks is zeroed at the end. (Read in
      // place, the newest layer's sectors are already where they belong: copied onto themselves.)
      const target = out ?? Buffer.allocUnsafe(this.blockSize);
      const needed = Buffer.from(this.#full);
      let done = overlaySectors(target, needed, first.data, first.bitmap);
      for (layer++; !done && layer < this.disks.length; layer++) {
        const block = await this.#readLayer(layer, index, await kept());
        if (block) done = overlaySectors(target, needed, block.data, block.bitmap);
      }
      if (!done) forEachMarkedRun(needed, this.blockSize, (first, end) => target.fill(0, first * SECTOR_SIZE, end * SECTOR_SIZE));
      return target;
    } finally {
      if (scratch !== undefined) this.#giveLayerBuffer(scratch);
    }
  }

  /** A kept layer buffer, a new one while under the limit, else the next one given back. */
  async #takeLayerBuffer(): Promise<Buffer> {
    const kept = this.#scratch.pop();
    if (kept !== undefined) return kept;
    if (this.#layerBuffersMade < this.#layerBufferLimit) {
      this.#layerBuffersMade++;
      return this.#layerBuffer();
    }
    return new Promise((resolve) => this.#layerBufferWaiters.push(resolve));
  }

  #giveLayerBuffer(buffer: Buffer): void {
    const waiter = this.#layerBufferWaiters.shift();
    if (waiter !== undefined) waiter(buffer);
    else this.#scratch.push(buffer);
  }

  /** A buffer for one layer's bitmap and block: aligned for direct reads when the reader makes them. */
  #layerBuffer(): Buffer {
    const size = Math.max(...this.disks.map((d) => d.bitmapSize + d.blockSize));
    if (!this.#directReads) return Buffer.allocUnsafeSlow(size);
    return this.#pool?.take(size) ?? alignedBuffer(size);
  }

  async #readLayer(layer: number, index: number, into: Buffer | undefined): Promise<VhdBlock | undefined> {
    const disk = this.disks[layer]!;
    const stored = this.#check?.needsStoredBytes === undefined ? false : await this.#check.needsStoredBytes(layer, index);
    const block = stored ? await disk.readBlock(index, into) : await disk.readMarked(index, into, { zeroUnmarked: false });
    if (block && this.#check) {
      const checking = this.#check.check(layer, block);
      if (checking) await checking;
    }
    return block;
  }

  /** `length` bytes of the virtual disk from `offset`; the range must lie within `currentSize`. */
  async read(offset: number, length: number): Promise<Buffer> {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
      throw new RangeError(`read of ${length} bytes at ${offset}: not non-negative integers`);
    }
    if (offset + length > this.currentSize) {
      throw new RangeError(`read of ${length} bytes at ${offset} runs past the disk's ${this.currentSize} bytes`);
    }
    const out = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const at = offset + done;
      const index = Math.floor(at / this.blockSize);
      const within = at - index * this.blockSize;
      const n = Math.min(this.blockSize - within, length - done);
      const block = await this.readBlock(index);
      block.copy(out, done, within, within + n);
      done += n;
    }
    return out;
  }

  async close(): Promise<void> {
    if (this.#directReads && this.#pool !== undefined) for (const buffer of this.#scratch.splice(0)) this.#pool.give(buffer);
    await Promise.all([...this.disks.map((d) => d.close()), this.#check?.close?.()]);
  }
}

async function openParent(child: VhdFile, seen: Set<string>, directReads: boolean): Promise<VhdFile> {
  const located = await locateParent(child.path, child.header.parentUnicodeName);
  if (!located.ok) throw new VhdChainError(child.path, located.notFound ? `parent ${resolve(dirname(child.path), child.header.parentUnicodeName)} does not exist` : located.reason);
  const { path, identity } = located;
  if (seen.has(identity)) throw new VhdChainError(child.path, `parent ${path} is already in the chain (loop)`);
  seen.add(identity);
  let parent: VhdFile;
  try {
    parent = await VhdFile.open(path, { directReads });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new VhdChainError(child.path, `parent ${path} does not exist`, { cause: error });
    }
    throw error;
  }
  try {
    await checkLink(child, parent);
    return parent;
  } catch (error) {
    await parent.close();
    throw error;
  }
}

async function checkLink(child: VhdFile, parent: VhdFile): Promise<void> {
  if (parent.blockSize !== child.blockSize) {
    throw new VhdChainError(child.path, `block size ${child.blockSize} differs from its parent's (${parent.blockSize}, ${parent.path})`);
  }
  if (parent.footer.uuid === child.header.parentUuid) return;
  const state = await readMergeState(dirname(parent.path), basename(parent.path));
  const explained = mergeExplainsUuidMismatch(state, {
    child: basename(child.path),
    parent: basename(parent.path),
    childParentUuid: child.header.parentUuid,
    parentFooterUuid: parent.footer.uuid,
  });
  if (!explained) {
    throw new VhdChainError(
      child.path,
      `parent ${parent.path} has uuid ${parent.footer.uuid}, but the disk was made from ${child.header.parentUuid}`,
    );
  }
}
