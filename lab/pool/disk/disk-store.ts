// The lab's disks: per SR a folder `srs/<sr uuid>/` with a block store (`blocks.dat`) and one
// block map per VDI (`maps/<vdi uuid>.map`). Content lives on disk only; a VDI in memory is its
// block map (8 bytes per 2 MiB block). A snapshot copies the map and takes a reference on each
// slot — no data is copied, so a 16 GiB disk snapshots instantly; writes then copy on write.
// Ordering for crash safety: a map file is created before the VDI record that names it and
// deleted after the record is gone; `removeOrphans` deletes maps no record names.
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_BLOCK_SIZE } from '../../../shared/vhd/format/index.js';
import { changedBlocks, changedChunkBitmap } from './changed-blocks.js';
import { copyBlockMap, loadBlockMap, newBlockMap, NO_SLOT, saveBlockMap, type BlockMap } from './block-map.js';
import { BlockStore } from './block-store.js';
import { DiskReader } from './disk-reader.js';
import { DiskWriter } from './disk-writer.js';
import { LabDiskError } from './lab-disk-error.js';
import { fsyncFolder } from '../../../shared/files/fsync-folder.js';

interface Disk {
  srUuid: string;
  path: string;
  map: BlockMap;
  /** Set while a writer holds the disk; later writers wait for it. */
  writer: Promise<void> | undefined;
}

interface Sr {
  dir: string;
  store: BlockStore;
}

export interface DiskStats {
  virtualSize: number;
  /** Blocks holding data (bytes = allocatedBlocks × blockSize). */
  allocatedBlocks: number;
  hasData: boolean;
}

export class DiskStore {
  private readonly srs = new Map<string, Sr>();
  private readonly disks = new Map<string, Disk>();
  private generation = 0;

  private constructor(
    readonly root: string,
    readonly blockSize: number,
  ) {}

  /** Opens every SR folder under `root/srs`. */
  static async open(root: string, blockSize = DEFAULT_BLOCK_SIZE): Promise<DiskStore> {
    const disks = new DiskStore(root, blockSize);
    const srRoot = join(root, 'srs');
    await mkdir(srRoot, { recursive: true });
    for (const srUuid of await readdir(srRoot)) await disks.openSr(srUuid);
    return disks;
  }

  async ensureSr(srUuid: string): Promise<void> {
    if (!this.srs.has(srUuid)) await this.openSr(srUuid);
  }

  private async openSr(srUuid: string): Promise<Sr> {
    const dir = join(this.root, 'srs', srUuid);
    await mkdir(join(dir, 'maps'), { recursive: true });
    const maps: BlockMap[] = [];
    for (const name of await readdir(join(dir, 'maps'))) {
      if (!name.endsWith('.map')) continue;
      const path = join(dir, 'maps', name);
      const map = await loadBlockMap(path, this.blockSize);
      maps.push(map);
      this.disks.set(name.slice(0, -4), { srUuid, path, map, writer: undefined });
      for (const g of map.generations) if (g > this.generation) this.generation = g;
      for (const g of map.chunkGenerations) if (g > this.generation) this.generation = g;
    }
    const sr = { dir, store: await BlockStore.open(dir, this.blockSize, maps) };
    this.srs.set(srUuid, sr);
    return sr;
  }

  has(vdiUuid: string): boolean {
    return this.disks.has(vdiUuid);
  }

  /** True while a writer holds the disk (an import or a lab write). */
  isWriting(vdiUuid: string): boolean {
    return this.disks.get(vdiUuid)?.writer !== undefined;
  }

  vdiUuids(): string[] {
    return [...this.disks.keys()];
  }

  /** Creates an empty (all zeros) disk. */
  async create(srUuid: string, vdiUuid: string, virtualSize: number): Promise<void> {
    if (this.disks.has(vdiUuid)) throw new LabDiskError(`VDI ${vdiUuid} already has a disk`);
    await this.ensureSr(srUuid);
    const map = newBlockMap(virtualSize, this.blockSize);
    const path = join(this.srs.get(srUuid)!.dir, 'maps', `${vdiUuid}.map`);
    await saveBlockMap(path, map);
    this.disks.set(vdiUuid, { srUuid, path, map, writer: undefined });
  }

  /** A new disk sharing every block of `sourceUuid` (a snapshot or clone). */
  async clone(sourceUuid: string, targetUuid: string): Promise<void> {
    const source = this.disk(sourceUuid);
    if (this.disks.has(targetUuid)) throw new LabDiskError(`VDI ${targetUuid} already has a disk`);
    const map = copyBlockMap(source.map);
    const store = this.srs.get(source.srUuid)!.store;
    for (const slot of map.slots) if (slot !== NO_SLOT) store.incref(slot);
    const path = join(this.srs.get(source.srUuid)!.dir, 'maps', `${targetUuid}.map`);
    try {
      await saveBlockMap(path, map);
    } catch (error) {
      for (const slot of map.slots) if (slot !== NO_SLOT) store.decref(slot);
      throw error;
    }
    this.disks.set(targetUuid, { srUuid: source.srUuid, path, map, writer: undefined });
  }

  /**
   * A new disk on another SR holding a copy of `sourceUuid`'s data (storage motion): each
   * allocated block is read and written into the target SR's store. Generations are kept, so
   * delta exports between the two sides stay exact; CBT is a separate matter (the caller's).
   */
  async copyToSr(sourceUuid: string, targetSrUuid: string, targetUuid: string): Promise<void> {
    const source = this.disk(sourceUuid);
    if (this.disks.has(targetUuid)) throw new LabDiskError(`VDI ${targetUuid} already has a disk`);
    await this.ensureSr(targetSrUuid);
    const from = this.srs.get(source.srUuid)!.store;
    const target = this.srs.get(targetSrUuid)!;
    const map = copyBlockMap(source.map);
    const buffer = Buffer.alloc(this.blockSize);
    const written: number[] = [];
    try {
      for (let i = 0; i < map.slots.length; i++) {
        if (map.slots[i] === NO_SLOT) continue;
        await from.read(map.slots[i]!, buffer);
        const slot = target.store.allocate();
        written.push(slot);
        await target.store.write(slot, buffer);
        map.slots[i] = slot;
      }
      await target.store.sync();
      const path = join(target.dir, 'maps', `${targetUuid}.map`);
      await saveBlockMap(path, map);
      this.disks.set(targetUuid, { srUuid: targetSrUuid, path, map, writer: undefined });
    } catch (error) {
      for (const slot of written) target.store.decref(slot);
      throw error;
    }
  }

  /** Deletes a disk; its blocks are freed once no other disk or reader shares them. */
  async destroy(vdiUuid: string): Promise<void> {
    const disk = this.disk(vdiUuid);
    if (disk.writer !== undefined) throw new LabDiskError(`VDI ${vdiUuid} is being written`, { retryable: true });
    this.disks.delete(vdiUuid);
    await rm(disk.path, { force: true });
    await fsyncFolder(join(disk.path, '..'));
    this.release(disk.srUuid, disk.map);
  }

  /** Frees the data of a disk but keeps its generations (XAPI's VDI.data_destroy for CBT). */
  async dataDestroy(vdiUuid: string): Promise<void> {
    const disk = this.disk(vdiUuid);
    if (disk.writer !== undefined) throw new LabDiskError(`VDI ${vdiUuid} is being written`, { retryable: true });
    const old = disk.map;
    const map = copyBlockMap(old);
    map.slots.fill(NO_SLOT);
    await saveBlockMap(disk.path, map);
    disk.map = map;
    this.release(disk.srUuid, old);
  }

  stats(vdiUuid: string): DiskStats {
    const { map } = this.disk(vdiUuid);
    let allocatedBlocks = 0;
    let hasData = true;
    for (let i = 0; i < map.slots.length; i++) {
      if (map.slots[i] !== NO_SLOT) allocatedBlocks++;
      else if (map.generations[i] !== 0) hasData = false;
    }
    return { virtualSize: map.virtualSize, allocatedBlocks, hasData };
  }

  /** A point-in-time reader; close it when done. */
  openReader(vdiUuid: string): DiskReader {
    const disk = this.disk(vdiUuid);
    const store = this.srs.get(disk.srUuid)!.store;
    const map = copyBlockMap(disk.map);
    for (const slot of map.slots) if (slot !== NO_SLOT) store.incref(slot);
    return new DiskReader(store, map);
  }

  /** Waits for the disk's previous writer, then returns a copy-on-write writer. */
  async openWriter(vdiUuid: string): Promise<DiskWriter> {
    let disk = this.disk(vdiUuid);
    while (disk.writer !== undefined) {
      await disk.writer;
      disk = this.disk(vdiUuid);
    }
    let release!: () => void;
    disk.writer = new Promise<void>((resolve) => (release = resolve));
    const store = this.srs.get(disk.srUuid)!.store;
    return new DiskWriter(vdiUuid, store, disk.map, {
      nextGeneration: () => ++this.generation,
      publish: async (map) => {
        await saveBlockMap(disk.path, map);
        disk.map = map;
      },
      release: () => {
        disk.writer = undefined;
        release();
      },
    });
  }

  /** Blocks of `targetUuid` that may differ from `baseUuid` (see changed-blocks.ts). */
  changedBlocks(baseUuid: string, targetUuid: string): number[] {
    return changedBlocks(this.disk(baseUuid).map.generations, this.disk(targetUuid).map.generations);
  }

  /** Blocks of a disk that hold data. */
  allocatedBlocks(vdiUuid: string): number[] {
    const { map } = this.disk(vdiUuid);
    const blocks: number[] = [];
    for (let i = 0; i < map.slots.length; i++) if (map.slots[i] !== NO_SLOT) blocks.push(i);
    return blocks;
  }

  /** XAPI's CBT bitmap between two disks: one bit per 64 KiB, set exactly where written since the base. */
  changedBlockBitmap(baseUuid: string, targetUuid: string): Buffer {
    const target = this.disk(targetUuid).map;
    const unit = this.blockSize / target.chunksPerBlock;
    return changedChunkBitmap(this.disk(baseUuid).map.chunkGenerations, target.chunkGenerations, target.virtualSize, unit);
  }

  /** Deletes the maps of disks no VDI record names (left by a crash between the two writes). */
  async removeOrphans(knownVdiUuids: Set<string>): Promise<string[]> {
    const orphans = [...this.disks.keys()].filter((uuid) => !knownVdiUuids.has(uuid));
    for (const uuid of orphans) await this.destroy(uuid);
    return orphans;
  }

  /** Slots in use in an SR (for tests and stats). */
  usedSlots(srUuid: string): number {
    return this.srs.get(srUuid)?.store.usedSlots ?? 0;
  }

  async close(): Promise<void> {
    for (const sr of this.srs.values()) await sr.store.close();
    this.srs.clear();
    this.disks.clear();
  }

  private release(srUuid: string, map: BlockMap): void {
    const store = this.srs.get(srUuid)!.store;
    for (const slot of map.slots) if (slot !== NO_SLOT) store.decref(slot);
  }

  private disk(vdiUuid: string): Disk {
    const disk = this.disks.get(vdiUuid);
    if (disk === undefined) throw new LabDiskError(`VDI ${vdiUuid} has no disk in the lab's store`);
    return disk;
  }
}
