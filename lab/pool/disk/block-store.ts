// The block store of one SR: a single sparse data file (`blocks.dat`) cut into fixed-size slots
// (2 MiB, one VHD block each). Which slot holds what is recorded only in the VDIs' block maps,
// so reference counts and the free list are rebuilt from the maps when the SR is opened: a slot
// written by a writer that crashed before its map was saved is simply free again.
// Slots are never written while a map references them (writers copy on write), so a reader
// holding a reference sees a stable block.
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { NO_SLOT, type BlockMap } from './block-map.js';
import { LabDiskError } from './lab-disk-error.js';

export class BlockStore {
  private refcounts = new Uint32Array(64);
  private slotCount = 0;
  private free: number[] = [];

  private constructor(
    readonly path: string,
    readonly blockSize: number,
    private readonly handle: FileHandle,
  ) {}

  /** Opens (creating) `dir/blocks.dat`; `maps` are every block map of the SR. */
  static async open(dir: string, blockSize: number, maps: Iterable<BlockMap>): Promise<BlockStore> {
    const path = join(dir, 'blocks.dat');
    const handle = await open(path, 'a+').then(async (h) => {
      await h.close();
      return open(path, 'r+');
    });
    const store = new BlockStore(path, blockSize, handle);
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

  /** Reads `target.length` bytes of `slot` from `offsetInBlock`; bytes past the file are zeros. */
  async read(slot: number, target: Buffer, offsetInBlock = 0): Promise<void> {
    const base = slot * this.blockSize + offsetInBlock;
    let done = 0;
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
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await this.handle.write(data, done, data.length - done, slot * this.blockSize + done);
      done += bytesWritten;
    }
  }

  async sync(): Promise<void> {
    await this.handle.datasync();
  }

  async close(): Promise<void> {
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
