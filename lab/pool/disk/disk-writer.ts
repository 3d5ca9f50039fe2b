// Writes to one disk, copy-on-write: every block touched gets a fresh slot (written whole: the
// old content or zeros, with the new bytes applied) and a fresh generation — for the block and
// for each 64 KiB chunk the write touched, which is what CBT reports — in a private copy of
// the block map. `commit()` fsyncs the data, saves the map atomically, publishes it and only
// then releases the replaced slots. A crash before the map is saved leaves the disk as it was
// (the new slots are free again when the SR is reopened). One writer per disk at a time.
// Partial writes are gathered in one open block at a time, so sorted small writes cost one
// copy per block.
//
// Written data goes to the disk as the writer goes: after every WRITEBACK_BYTES a data sync
// starts in the background (one at a time), so `commit()`'s own sync finds little left. XAPI's
// import (vhd-tool) writes past the page cache, its data on the disk as it arrives; a writer that
// left a whole import to one sync at the end had the lab's import spend its last second or more
// waiting for gigabytes to reach the disk, a wait a real pool does not have.
import { isFullyMarked, isSectorMarked, SECTOR_SIZE } from '../../../shared/vhd/format/index.js';
import { copyBlockMap, NO_SLOT, type BlockMap } from './block-map.js';
import type { BlockStore } from './block-store.js';
import { LabDiskError } from './lab-disk-error.js';

/** What the writer needs from the disk store. */
export interface DiskWriterHost {
  nextGeneration(): number;
  /** Saves and publishes the new map; called once, by commit. */
  publish(map: BlockMap): Promise<void>;
  /** Ends the writer's turn (commit or abort). */
  release(): void;
}

interface OpenBlock {
  index: number;
  data: Buffer;
  /** 1 for each chunk of the block written through this open block. */
  touched: Uint8Array;
}

/** Bytes written between two background syncs. */
const WRITEBACK_BYTES = 64 * 1024 * 1024;

export class DiskWriter {
  private readonly map: BlockMap;
  /** Bytes written since the last background sync started. */
  private unsynced = 0;
  private writeback: Promise<void> | undefined;
  private writebackError: unknown;
  private readonly owned = new Set<number>();
  private readonly replaced: number[] = [];
  private open: OpenBlock | undefined;
  private finished = false;
  private changed = 0;

  constructor(
    readonly vdiUuid: string,
    private readonly store: BlockStore,
    committed: BlockMap,
    private readonly host: DiskWriterHost,
  ) {
    this.map = copyBlockMap(committed);
  }

  get virtualSize(): number {
    return this.map.virtualSize;
  }

  get blockSize(): number {
    return this.store.blockSize;
  }

  /** Blocks written so far. */
  get blocksChanged(): number {
    return this.changed;
  }

  /** Writes `data` at byte `offset` (within the virtual size). */
  async writeAt(offset: number, data: Buffer): Promise<void> {
    this.checkRange(offset, data.length);
    let done = 0;
    while (done < data.length) {
      const position = offset + done;
      const index = Math.floor(position / this.blockSize);
      const inBlock = position - index * this.blockSize;
      const count = Math.min(this.blockSize - inBlock, data.length - done);
      if (inBlock === 0 && count === this.blockSize) {
        await this.writeBlock(index, data.subarray(done, done + count));
      } else {
        const block = await this.openBlock(index);
        data.copy(block.data, inBlock, done, done + count);
        const unit = this.blockSize / this.map.chunksPerBlock;
        block.touched.fill(1, Math.floor(inBlock / unit), Math.ceil((inBlock + count) / unit));
      }
      done += count;
    }
  }

  /** Replaces block `index` whole. */
  async writeBlock(index: number, data: Buffer): Promise<void> {
    this.checkIndex(index);
    if (this.open?.index === index) this.open = undefined;
    await this.storeBlock(index, this.clampToDisk(index, data));
  }

  /** Writes the sectors of block `index` marked in `bitmap` (VHD import); others keep their content. */
  async writeMarkedSectors(index: number, bitmap: Uint8Array, data: Buffer): Promise<void> {
    const sectors = this.blockSize / SECTOR_SIZE;
    if (isFullyMarked(bitmap, sectors)) return this.writeBlock(index, data);
    let sector = 0;
    while (sector < sectors) {
      if (!isSectorMarked(bitmap, sector)) {
        sector++;
        continue;
      }
      let end = sector + 1;
      while (end < sectors && isSectorMarked(bitmap, end)) end++;
      const from = index * this.blockSize + sector * SECTOR_SIZE;
      const length = Math.min((end - sector) * SECTOR_SIZE, this.virtualSize - from);
      if (length > 0) await this.writeAt(from, data.subarray(sector * SECTOR_SIZE, sector * SECTOR_SIZE + length));
      sector = end;
    }
  }

  /** Makes every write durable and visible; the writer is done. */
  async commit(): Promise<void> {
    this.assertOpen();
    try {
      await this.flushOpenBlock();
      await this.writeback;
      if (this.writebackError !== undefined) throw this.writebackError;
      if (this.changed > 0) {
        await this.store.sync();
        await this.host.publish(this.map);
        for (const slot of this.replaced) this.store.decref(slot);
      }
    } catch (error) {
      this.discard();
      throw error;
    } finally {
      this.finish();
    }
  }

  /** Drops every write; the disk keeps its committed content. */
  abort(): void {
    if (this.finished) return;
    this.discard();
    this.finish();
  }

  private discard(): void {
    for (const slot of this.owned) this.store.decref(slot);
    this.owned.clear();
    this.open = undefined;
  }

  private finish(): void {
    this.finished = true;
    this.host.release();
  }

  private async openBlock(index: number): Promise<OpenBlock> {
    if (this.open?.index === index) return this.open;
    await this.flushOpenBlock();
    const data = Buffer.allocUnsafe(this.blockSize);
    const slot = this.map.slots[index]!;
    if (slot === NO_SLOT) data.fill(0);
    else await this.store.read(slot, data);
    this.open = { index, data, touched: new Uint8Array(this.map.chunksPerBlock) };
    return this.open;
  }

  private async flushOpenBlock(): Promise<void> {
    const open = this.open;
    if (open === undefined) return;
    this.open = undefined;
    await this.storeBlock(open.index, open.data, open.touched);
  }

  /**
   * Puts a whole block in a slot of this writer (a fresh one unless it already owns one); the
   * chunks marked in `touched` (all when absent) get the new generation.
   */
  private async storeBlock(index: number, data: Buffer, touched?: Uint8Array): Promise<void> {
    this.assertOpen();
    const current = this.map.slots[index]!;
    let slot = current;
    if (!this.owned.has(current)) {
      slot = this.store.allocate();
      this.owned.add(slot);
      if (current !== NO_SLOT) this.replaced.push(current);
      this.map.slots[index] = slot;
      this.changed++;
    }
    const generation = this.host.nextGeneration();
    this.map.generations[index] = generation;
    const per = this.map.chunksPerBlock;
    for (let chunk = 0; chunk < per; chunk++) if (touched === undefined || touched[chunk] === 1) this.map.chunkGenerations[index * per + chunk] = generation;
    await this.store.write(slot, data);
    this.unsynced += data.length;
    if (this.unsynced >= WRITEBACK_BYTES && this.writeback === undefined) this.startWriteback();
  }

  /** A data sync in the background; its failure fails the commit. */
  private startWriteback(): void {
    this.unsynced = 0;
    this.writeback = this.store.sync().then(
      () => undefined,
      (error: unknown) => void (this.writebackError ??= error),
    ).finally(() => (this.writeback = undefined));
  }

  private clampToDisk(index: number, data: Buffer): Buffer {
    if (data.length !== this.blockSize) {
      throw new LabDiskError(`VDI ${this.vdiUuid}: block ${index} has ${data.length} bytes, expected ${this.blockSize}`);
    }
    const end = (index + 1) * this.blockSize;
    if (end <= this.virtualSize) return data;
    const copy = Buffer.from(data);
    copy.fill(0, this.blockSize - (end - this.virtualSize));
    return copy;
  }

  private checkIndex(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.map.slots.length) {
      throw new LabDiskError(`VDI ${this.vdiUuid}: block ${index} is outside the disk (${this.map.slots.length} blocks)`);
    }
  }

  private checkRange(offset: number, length: number): void {
    if (!Number.isInteger(offset) || offset < 0 || offset + length > this.virtualSize) {
      throw new LabDiskError(
        `VDI ${this.vdiUuid}: write of ${length} bytes at ${offset} is outside the disk (${this.virtualSize} bytes)`,
      );
    }
  }

  private assertOpen(): void {
    if (this.finished) throw new LabDiskError(`VDI ${this.vdiUuid}: writer already committed or aborted`);
  }
}
