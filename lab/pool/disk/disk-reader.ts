// A point-in-time view of one disk: a copy of its block map whose slots are pinned in the block
// store (reference counted), so later writes (copy-on-write) and even the VDI's destruction do
// not change what the reader sees. Close it to release the slots.
import { NO_SLOT, type BlockMap } from './block-map.js';
import type { BlockStore } from './block-store.js';

export class DiskReader {
  private closed = false;

  constructor(
    private readonly store: BlockStore,
    private readonly map: BlockMap,
  ) {}

  get virtualSize(): number {
    return this.map.virtualSize;
  }

  get blockSize(): number {
    return this.store.blockSize;
  }

  get blockCount(): number {
    return this.map.slots.length;
  }

  isAllocated(index: number): boolean {
    return this.map.slots[index] !== NO_SLOT;
  }

  generation(index: number): number {
    return this.map.generations[index] ?? 0;
  }

  /** The whole block `index` (bytes past the virtual size, and unallocated blocks, are zeros). */
  async readBlock(index: number, target: Buffer = Buffer.allocUnsafe(this.blockSize)): Promise<Buffer> {
    const slot = this.map.slots[index];
    if (slot === undefined || slot === NO_SLOT) return target.fill(0);
    await this.store.read(slot, target);
    const end = (index + 1) * this.blockSize;
    if (end > this.virtualSize) target.fill(0, this.blockSize - (end - this.virtualSize));
    return target;
  }

  /**
   * Reads `length` bytes from `offset` in chunks of at most one block. With `scratch` (a block's
   * size at least) every chunk is a view of it, valid until the next one is asked for: a caller
   * that is done with each chunk by then saves a fresh block-sized buffer per chunk.
   */
  async *readRange(offset: number, length: number, scratch?: Buffer): AsyncGenerator<Buffer> {
    if (scratch !== undefined && scratch.length < this.blockSize) throw new RangeError(`scratch of ${scratch.length} bytes is smaller than a block (${this.blockSize})`);
    const end = Math.min(offset + length, this.virtualSize);
    let position = offset;
    while (position < end) {
      const index = Math.floor(position / this.blockSize);
      const inBlock = position - index * this.blockSize;
      const count = Math.min(this.blockSize - inBlock, end - position);
      const chunk = scratch === undefined ? Buffer.allocUnsafe(count) : scratch.subarray(0, count);
      const slot = this.map.slots[index]!;
      if (slot === NO_SLOT) chunk.fill(0);
      else await this.store.read(slot, chunk, inBlock);
      yield chunk;
      position += count;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const slot of this.map.slots) if (slot !== NO_SLOT) this.store.decref(slot);
  }
}
