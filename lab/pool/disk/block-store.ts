// The block store of one SR: a single sparse data file (`blocks.dat`) cut into fixed-size slots
// (2 MiB, one VHD block each). Which slot holds what is recorded only in the VDIs' block maps,
// so reference counts and the free list are rebuilt from the maps when the SR is opened: a slot
// written by a writer that crashed before its map was saved is simply free again.
// Slots are never written while a map references them (writers copy on write), so a reader
// holding a reference sees a stable block.
// Whole blocks are written (and read, into the store's own buffers) with direct I/O where the
// filesystem allows it (direct-io.ts), bypassing the page cache; everything else is buffered.
// The two handles stay coherent: the kernel writes back and drops cached pages of a range
// before it reads or writes that range directly.
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { NO_SLOT, type BlockMap } from './block-map.js';
import { DIRECT_ALIGNMENT, alignedBuffer, isDirectCapable, isDirectRefusal, openDirect } from './direct-io.js';
import { LabDiskError } from './lab-disk-error.js';

export class BlockStore {
  private refcounts = new Uint32Array(64);
  private slotCount = 0;
  private free: number[] = [];
  /** Block buffers for direct I/O, kept for reuse: fresh memory costs more than a copy. */
  private readonly spare: Buffer[] = [];
  /** False once a direct request was refused: the rest goes buffered. */
  private useDirect: boolean;

  private constructor(
    readonly path: string,
    readonly blockSize: number,
    private readonly handle: FileHandle,
    private readonly direct: FileHandle | undefined,
  ) {
    this.useDirect = direct !== undefined && blockSize % DIRECT_ALIGNMENT === 0;
  }

  /** Opens (creating) `dir/blocks.dat`; `maps` are every block map of the SR. */
  static async open(dir: string, blockSize: number, maps: Iterable<BlockMap>): Promise<BlockStore> {
    const path = join(dir, 'blocks.dat');
    const handle = await open(path, 'a+').then(async (h) => {
      await h.close();
      return open(path, 'r+');
    });
    const direct = await openDirect(path).catch(async (error: unknown) => {
      await handle.close();
      throw error;
    });
    const store = new BlockStore(path, blockSize, handle, direct);
    const { size } = await handle.stat();
    store.slotCount = Math.ceil(size / blockSize);
    store.rebuild(maps);
    return store;
  }

  private rebuild(maps: Iterable<BlockMap>): void {
    for (const map of maps) {
      for (const slot of map.slots) if (slot !== NO_SLOT) this.incref(slot);
    }
    for (let slot = this.slotCount - 1; slot >= 0; slot--) {
      if ((this.refcounts[slot] ?? 0) === 0) this.free.push(slot);
    }
  }

  /** Slots referenced by at least one map or reader. */
  get usedSlots(): number {
    return this.slotCount - this.free.length;
  }

  /** A free slot, with one reference (the caller's). Its content is stale: write it whole. */
  allocate(): number {
    const slot = this.free.pop() ?? this.slotCount++;
    this.ensureCapacity(slot);
    this.refcounts[slot] = 1;
    return slot;
  }

  incref(slot: number): void {
    this.ensureCapacity(slot);
    if (slot >= this.slotCount) this.slotCount = slot + 1;
    this.refcounts[slot]! += 1;
  }

  decref(slot: number): void {
    const count = this.refcounts[slot] ?? 0;
    if (count === 0) throw new LabDiskError(`${this.path}: slot ${slot} released more often than taken`);
    this.refcounts[slot] = count - 1;
    if (count === 1) this.free.push(slot);
  }

  refcount(slot: number): number {
    return this.refcounts[slot] ?? 0;
  }

  /**
   * A block-sized buffer the store reads and writes directly; give it back with `returnBuffer`
   * when done. Contents are stale.
   */
  borrowBuffer(): Buffer {
    return this.spare.pop() ?? (this.useDirect ? alignedBuffer(this.blockSize) : Buffer.allocUnsafe(this.blockSize));
  }

  returnBuffer(buffer: Buffer): void {
    if (buffer.length === this.blockSize && this.spare.length < 4) this.spare.push(buffer);
  }

  /** Reads `target.length` bytes of `slot` from `offsetInBlock`; bytes past the file are zeros. */
  async read(slot: number, target: Buffer, offsetInBlock = 0): Promise<void> {
    const base = slot * this.blockSize + offsetInBlock;
    let done = 0;
    if (offsetInBlock === 0 && target.length === this.blockSize && this.canDirect(target)) done = await this.readDirect(target, base);
    while (done < target.length) {
      const { bytesRead } = await this.handle.read(target, done, target.length - done, base + done);
      if (bytesRead === 0) {
        target.fill(0, done);
        return;
      }
      done += bytesRead;
    }
  }

  /** Writes a whole block into `slot`. */
  async write(slot: number, data: Buffer): Promise<void> {
    if (data.length !== this.blockSize) {
      throw new LabDiskError(`${this.path}: block write of ${data.length} bytes, blocks are ${this.blockSize}`);
    }
    const position = slot * this.blockSize;
    if (this.useDirect) {
      if (isDirectCapable(data)) {
        if (await this.writeDirect(data, position)) return;
      } else {
        const staged = this.borrowBuffer();
        try {
          data.copy(staged);
          if (await this.writeDirect(staged, position)) return;
        } finally {
          this.returnBuffer(staged);
        }
      }
    }
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await this.handle.write(data, done, data.length - done, position + done);
      done += bytesWritten;
    }
  }

  private canDirect(buffer: Buffer): boolean {
    return this.useDirect && isDirectCapable(buffer);
  }

  /** Bytes read directly from `position` (fewer at the end of the file, 0 if refused). */
  private async readDirect(target: Buffer, position: number): Promise<number> {
    let done = 0;
    try {
      while (done < target.length) {
        const { bytesRead } = await this.direct!.read(target, done, target.length - done, position + done);
        done += bytesRead;
        if (bytesRead === 0 || done % DIRECT_ALIGNMENT !== 0) break;
      }
    } catch (error) {
      if (!isDirectRefusal(error)) throw error;
      this.useDirect = false;
    }
    return done - (done % DIRECT_ALIGNMENT);
  }

  /** True when `data` was written whole; false if direct I/O was refused (nothing to undo: the block is rewritten). */
  private async writeDirect(data: Buffer, position: number): Promise<boolean> {
    try {
      let done = 0;
      while (done < data.length) {
        const { bytesWritten } = await this.direct!.write(data, done, data.length - done, position + done);
        done += bytesWritten;
        if (done % DIRECT_ALIGNMENT !== 0) return false;
      }
      return true;
    } catch (error) {
      if (!isDirectRefusal(error)) throw error;
      this.useDirect = false;
      return false;
    }
  }

  async sync(): Promise<void> {
    await this.handle.datasync();
  }

  async close(): Promise<void> {
    await this.direct?.close();
    await this.handle.close();
  }

  private ensureCapacity(slot: number): void {
    if (slot < this.refcounts.length) return;
    let size = this.refcounts.length;
    while (size <= slot) size *= 2;
    const grown = new Uint32Array(size);
    grown.set(this.refcounts);
    this.refcounts = grown;
  }
}
