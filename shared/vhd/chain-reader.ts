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
// layer alone, or for a partially marked block each layer that contributes a sector, down to the
// one that completes it (a layer whose marked sectors newer ones all cover is not read).
// The VHD module knows nothing of what the check compares against (the storage agent's `.sums`).
// Only the marked sectors of a layer's block are read (VhdFile.readMarked: the holes of a sparse
// delta are skipped, and not zeroed: only marked sectors are copied out), unless the check says it
// needs the stored bytes of the unmarked ones too.
import { basename, dirname, resolve } from 'node:path';
import { VhdChainError } from './chain-error.js';
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
  /**
   * True when the check knows that `layer`'s stored bitmap of block `index` marks every sector
   * (its checksum table says so): the reader then reads that block whole in one read, with the
   * bitmaps of the newer layers, instead of its bitmap first. The block is checked as any other;
   * a block taken for full whose bitmap is not fails the read (VhdChainError) rather than give
   * wrong data. Absent: never known.
   */
  storedFull?(layer: number, index: number): boolean | undefined | Promise<boolean | undefined>;
  /** Called by `ChainReader.close`; releases what the check holds. */
  close?(): Promise<void>;
}

/** Older layers of one block read at once (each through a kept 2 MiB buffer). */
const LAYERS_AT_ONCE = 4;

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
  /** Layer buffers (bitmap + block) of `readBlock(index, into)` calls, kept for the next. */
  readonly #scratch: Buffer[] = [];

  private constructor(disks: VhdFile[], check?: BlockCheck) {
    this.disks = disks;
    this.#check = check;
    this.currentSize = disks[0]!.currentSize;
    this.blockSize = disks[0]!.blockSize;
    this.blockCount = disks[0]!.blockCount;
    this.#bitmapBytes = this.blockSize / SECTOR_SIZE / 8;
    this.#full = Buffer.alloc(this.#bitmapBytes, 0xff);
  }

  static async open(path: string): Promise<ChainReader> {
    const disks: VhdFile[] = [];
    try {
      let disk = await VhdFile.open(path);
      disks.push(disk);
      const seen = new Set([await fileIdentity(disk.path)]);
      while (disk.footer.diskType === DiskType.Differencing) {
        disk = await openParent(disk, seen);
        disks.push(disk);
        if (disks.length > MAX_CHAIN_DEPTH) throw new VhdChainError(path, `chain is deeper than ${MAX_CHAIN_DEPTH} disks`);
      }
      return new ChainReader(disks);
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
    return new ChainReader(this.disks, check);
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
    if (!Number.isInteger(index) || index < 0 || index >= this.blockCount) {
      throw new RangeError(`block ${index} is outside 0..${this.blockCount - 1}`);
    }
    if (into !== undefined && into.length < this.blockSize) throw new RangeError(`a ${this.blockSize}-byte block does not fit in ${into.length} bytes`);
    const out = into?.subarray(0, this.blockSize);
    const holders: number[] = [];
    for (let layer = 0; layer < this.disks.length; layer++) if (this.disks[layer]!.hasBlock(index)) holders.push(layer);
    if (holders.length === 0) return out === undefined ? Buffer.alloc(this.blockSize) : out.fill(0);
    const taken: Buffer[] = [];
    const buffer = (): Buffer => {
      if (out === undefined) return Buffer.allocUnsafe(this.disks[0]!.bitmapSize + this.blockSize);
      const kept = this.#scratch.pop() ?? Buffer.allocUnsafeSlow(Math.max(...this.disks.map((d) => d.bitmapSize + d.blockSize)));
      taken.push(kept);
      return kept;
    };
    try {
      // The layers above the newest one the check knows to be fully marked: their bitmaps say
      // what each contributes; that layer's block is read whole in the same round.
      let whole = holders.length;
      for (let k = 0; k < holders.length; k++) {
        if (await this.#knownFull(holders[k]!, index)) {
          whole = k;
          break;
        }
      }
      const partial = holders.slice(0, whole);
      const bitmapBytes = this.disks[0]!.bitmapSize;
      const bitmaps = Buffer.allocUnsafe(partial.length * bitmapBytes);
      const bitmapOf = (k: number): Buffer => bitmaps.subarray(k * bitmapBytes, (k + 1) * bitmapBytes);
      const [, fullBlock] = await Promise.all([
        Promise.all(partial.map((layer, k) => this.disks[layer]!.readBitmap(index, bitmapOf(k)))),
        whole < holders.length ? this.#readStored(holders[whole]!, index, buffer()) : undefined,
      ]);
      if (partial.length === 0 && fullBlock !== undefined) {
        await this.#checked(holders[whole]!, fullBlock);
        if (!isFullPrefix(fullBlock.bitmap, this.#full, this.#bitmapBytes)) throw this.#notFull(holders[whole]!, index);
        return out === undefined ? fullBlock.data : (fullBlock.data.copy(out), out);
      }
      const uncovered = Buffer.from(this.#full);
      const contributors: Array<{ layer: number; bitmap: Buffer }> = [];
      let covered = false;
      for (const [k, layer] of partial.entries()) {
        const taking = takeMarked(uncovered, bitmapOf(k));
        if (taking === 'none') continue;
        contributors.push({ layer, bitmap: bitmapOf(k) });
        if ((covered = taking === 'all')) break;
      }
      const newest = contributors[0];
      if (contributors.length === 1 && covered && isFullPrefix(newest!.bitmap, this.#full, this.#bitmapBytes)) {
        // One layer marks every sector: its data as it is.
        const block = await this.#readLayerData(newest!.layer, index, newest!.bitmap, buffer());
        await this.#checked(newest!.layer, block);
        return out === undefined ? block.data : (block.data.copy(out), out);
      }
      // Only marked sectors are copied in; what no layer marks is zeroed at the end.
      const target = out ?? Buffer.allocUnsafe(this.blockSize);
      const needed = Buffer.from(this.#full);
      let done = false;
      for (let at = 0; at < contributors.length; at += LAYERS_AT_ONCE) {
        const group = contributors.slice(at, at + LAYERS_AT_ONCE);
        const blocks = await Promise.all(group.map(({ layer, bitmap }) => this.#readLayerData(layer, index, bitmap, buffer())));
        for (const [k, block] of blocks.entries()) {
          await this.#checked(group[k]!.layer, block);
          done = overlaySectors(target, needed, block.data, block.bitmap);
        }
        if (out !== undefined) this.#scratch.push(...taken.splice(taken.length - group.length));
      }
      if (!done && !covered && fullBlock !== undefined) {
        await this.#checked(holders[whole]!, fullBlock);
        if (!isFullPrefix(fullBlock.bitmap, this.#full, this.#bitmapBytes)) throw this.#notFull(holders[whole]!, index);
        done = overlaySectors(target, needed, fullBlock.data, fullBlock.bitmap);
      }
      if (!done) forEachMarkedRun(needed, this.blockSize, (first, end) => target.fill(0, first * SECTOR_SIZE, end * SECTOR_SIZE));
      return target;
    } finally {
      this.#scratch.push(...taken);
    }
  }

  /** True when the check knows the layer's stored bitmap of the block marks every sector. */
  async #knownFull(layer: number, index: number): Promise<boolean> {
    if (this.#check?.storedFull === undefined) return false;
    return (await this.#check.storedFull(layer, index)) === true;
  }

  /** A layer the check said was fully marked whose bitmap is not (the check passed it: should not happen). */
  #notFull(layer: number, index: number): VhdChainError {
    return new VhdChainError(this.disks[layer]!.path, `block ${index}: the check took its bitmap for fully marked, but it is not`);
  }

  async #checked(layer: number, block: VhdBlock): Promise<void> {
    const checking = this.#check?.check(layer, block);
    if (checking) await checking;
  }

  /** Block `index` of `layer` whole (stored bitmap and data, one read) into `into` (not checked). */
  async #readStored(layer: number, index: number, into: Buffer): Promise<VhdBlock> {
    return (await this.disks[layer]!.readBlock(index, into))!;
  }

  /** Block `index` of `layer`, whose stored bitmap was read already, into `into` (not checked). */
  async #readLayerData(layer: number, index: number, bitmap: Buffer, into: Buffer): Promise<VhdBlock> {
    const disk = this.disks[layer]!;
    const stored = this.#check?.needsStoredBytes === undefined ? false : await this.#check.needsStoredBytes(layer, index);
    if (stored) return (await disk.readBlock(index, into))!;
    bitmap.copy(into);
    return (await disk.readMarkedAfterBitmap(index, into, { zeroUnmarked: false }))!;
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
    await Promise.all([...this.disks.map((d) => d.close()), this.#check?.close?.()]);
  }
}

async function openParent(child: VhdFile, seen: Set<string>): Promise<VhdFile> {
  const located = await locateParent(child.path, child.header.parentUnicodeName);
  if (!located.ok) throw new VhdChainError(child.path, located.notFound ? `parent ${resolve(dirname(child.path), child.header.parentUnicodeName)} does not exist` : located.reason);
  const { path, identity } = located;
  if (seen.has(identity)) throw new VhdChainError(child.path, `parent ${path} is already in the chain (loop)`);
  seen.add(identity);
  let parent: VhdFile;
  try {
    parent = await VhdFile.open(path);
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

/**
 * Clears from `uncovered` the sectors `bitmap` marks: 'none' when it marks none of them, 'all'
 * when none is left uncovered after it, else 'some'.
 */
function takeMarked(uncovered: Buffer, bitmap: Uint8Array): 'none' | 'some' | 'all' {
  let took = false;
  let left = false;
  for (let b = 0; b < uncovered.length; b++) {
    const u = uncovered[b]!;
    if (u === 0) continue;
    const take = u & bitmap[b]!;
    if (take !== 0) {
      took = true;
      uncovered[b] = u & ~take;
    }
    if (uncovered[b] !== 0) left = true;
  }
  return !took ? 'none' : left ? 'some' : 'all';
}
