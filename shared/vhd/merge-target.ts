// The parent of a merge, opened for in-place updates that keep it readable after a crash at any
// point. Readers (VhdFile) use the footer copy at offset 0 and the on-disk BAT, so:
//
// - A block the parent has is overwritten in place (the merge writes the same bytes again when
//   resumed, so a torn or repeated write is harmless while the child still covers it).
// - A block the parent lacks is appended at `dataEnd` (past everything referenced, over the old
//   trailing footer); the BAT entry stays pending in memory. `commit()` writes a trailing footer
//   after the last block, fsyncs, and only then writes the pending BAT sectors and fsyncs again:
//   an entry never points at bytes that may not be on disk.
// - Growing the BAT moves whatever sits where the longer table goes (copy to the end, fsync,
//   repoint, fsync — one region at a time), then fills the new entries with "absent" and only
//   then raises the header's entry count.
// - The footers are written trailing first, then offset 0: the copy readers use changes last.
// Durability uses fdatasync: it flushes the data and the size, all a reader needs (not mtime).
import { type FileHandle } from 'node:fs/promises';
import {
  BAT_ABSENT,
  DiskType,
  FOOTER_SIZE,
  SECTOR_SIZE,
  batSize,
  encodeFooter,
  encodeHeader,
  type DynamicHeader,
  type Footer,
} from './format/index.js';
import { planBatGrowth, dataEnd, type FileLayout } from './merge-plan.js';
import { VhdFile, readFully } from './vhd-file.js';

/**
 * Crash points inside the parent's updates, for failure-injection tests; 'write' comes before
 * every write or truncate of the parent.
 */
export type TargetPoint = 'write' | 'bat-move' | 'bat-grown' | 'footer-trailing' | 'footer';

export class MergeTarget {
  readonly path: string;
  readonly blockSize: number;
  readonly bitmapSize: number;
  readonly blockBytes: number;
  readonly headerOffset: number;
  footer: Footer;
  header: DynamicHeader;
  bat: Uint32Array;
  readonly #handle: FileHandle;
  readonly #file: VhdFile;
  /** Where the next appended block goes; the trailing footer belongs here. */
  #end: number;
  #fileSize: number;
  /** Entries [low, high) changed in memory and not yet on disk. */
  #dirtyLow = Infinity;
  #dirtyHigh = -1;
  #appended = false;
  #flushing: Promise<void> | undefined;
  readonly #point: (p: TargetPoint) => void;

  private constructor(file: VhdFile, point: (p: TargetPoint) => void) {
    this.#file = file;
    this.#point = point;
    this.#handle = file.handle;
    this.path = file.path;
    this.footer = file.footer;
    this.header = file.header;
    this.bat = Uint32Array.from(file.bat);
    this.blockSize = file.blockSize;
    this.bitmapSize = file.bitmapSize;
    this.blockBytes = file.bitmapSize + file.blockSize;
    this.headerOffset = file.footer.dataOffset!;
    this.#fileSize = file.fileSize;
    this.#end = dataEnd(this.layout());
  }

  /** `point` is called at each crash point (tests inject failures there). */
  static async open(path: string, point: (p: TargetPoint) => void = () => undefined): Promise<MergeTarget> {
    return new MergeTarget(await VhdFile.open(path, { writable: true }), point);
  }

  get isDynamic(): boolean {
    return this.footer.diskType === DiskType.Dynamic;
  }

  layout(): FileLayout {
    return { headerOffset: this.headerOffset, header: this.header, bat: this.bat, blockBytes: this.blockBytes };
  }

  hasBlock(index: number): boolean {
    return index < this.bat.length && this.bat[index] !== BAT_ABSENT;
  }

  /** Reads the block's bitmap and data into `buf` (`blockBytes` long). */
  async readBlockInto(index: number, buf: Buffer): Promise<void> {
    await readFully(this.#handle, buf, this.bat[index]! * SECTOR_SIZE, `${this.path}: block ${index}`);
  }

  /** Writes bitmap + data: in place when the block exists, else appended (BAT entry pending). */
  async writeBlock(index: number, buf: Buffer): Promise<void> {
    if (this.hasBlock(index)) {
      await this.#write(buf, this.bat[index]! * SECTOR_SIZE);
      return;
    }
    if (index >= this.bat.length) throw new RangeError(`${this.path}: block ${index} is past the BAT (${this.bat.length} entries)`);
    const at = this.#end;
    this.#end += this.blockBytes;
    this.#appended = true;
    await this.#write(buf, at);
    this.bat[index] = at / SECTOR_SIZE;
    this.#dirtyLow = Math.min(this.#dirtyLow, index);
    this.#dirtyHigh = Math.max(this.#dirtyHigh, index + 1);
  }

  /**
   * Starts writing back what was written so far without waiting (at most one at a time), so the
   * disk works while blocks are still being copied and `commit` finds little left to flush.
   * Ordering guarantees come only from `commit`; this is purely an early start.
   */
  flushAhead(): void {
    if (this.#flushing) return;
    this.#flushing = this.#handle
      .datasync()
      .catch(() => undefined) // a real failure surfaces in the next commit's datasync
      .finally(() => {
        this.#flushing = undefined;
      });
  }

  /** Makes every write so far durable and visible: trailing footer, fsync, BAT, fsync. */
  async commit(): Promise<void> {
    if (this.#appended || this.#fileSize !== this.#end + FOOTER_SIZE) await this.#writeTrailingFooter();
    this.#appended = false;
    await this.#handle.datasync();
    if (this.#dirtyHigh < 0) return;
    await this.#writeBatEntries(this.#dirtyLow, this.#dirtyHigh);
    this.#dirtyLow = Infinity;
    this.#dirtyHigh = -1;
    await this.#handle.datasync();
  }

  /** Grows the BAT in place to `entries` (no-op when it is big enough). */
  async growBat(entries: number): Promise<void> {
    const plan = planBatGrowth(this.layout(), entries);
    if (plan.kind === 'none') return;
    await this.commit();
    // Moved regions must land past the longer table, not inside it.
    this.#end = Math.max(this.#end, this.header.tableOffset + batSize(entries));
    for (const region of plan.moves) {
      const bytes = Buffer.allocUnsafe(region.end - region.start);
      await readFully(this.#handle, bytes, region.start, `${this.path}: ${region.kind} at byte ${region.start}`);
      const at = this.#end;
      await this.#write(bytes, at);
      this.#end += bytes.length;
      await this.#writeTrailingFooter();
      await this.#handle.datasync();
      if (region.kind === 'block') {
        this.bat[region.index] = at / SECTOR_SIZE;
        await this.#writeBatEntries(region.index, region.index + 1);
      } else {
        const locators = this.header.parentLocators.map((l, slot) => (slot === region.slot ? { ...l, platformDataOffset: at } : l));
        await this.#writeHeader({ ...this.header, parentLocators: locators });
      }
      await this.#handle.datasync();
      this.#point('bat-move');
    }
    await this.#extendBat(entries);
    this.#point('bat-grown');
  }

  /** Writes `footer` at the end, then at offset 0, each made durable. */
  async writeFooters(footer: Footer): Promise<void> {
    await this.commit();
    this.footer = footer;
    await this.#writeTrailingFooter();
    await this.#handle.datasync();
    this.#point('footer-trailing');
    await this.#write(encodeFooter(footer), 0);
    await this.#handle.datasync();
    this.#point('footer');
  }

  async close(): Promise<void> {
    await this.#flushing;
    await this.#file.close();
  }

  async #extendBat(entries: number): Promise<void> {
    const { tableOffset, maxTableEntries } = this.header;
    const from = tableOffset + maxTableEntries * 4;
    const to = tableOffset + batSize(entries);
    await this.#write(Buffer.alloc(to - from, 0xff), from);
    await this.#handle.datasync();
    const bat = new Uint32Array(entries).fill(BAT_ABSENT);
    bat.set(this.bat);
    await this.#writeHeader({ ...this.header, maxTableEntries: entries });
    this.bat = bat;
    const end = dataEnd(this.layout());
    if (end > this.#end) this.#end = end;
    await this.#writeTrailingFooter();
    await this.#handle.datasync();
  }

  async #writeHeader(header: DynamicHeader): Promise<void> {
    await this.#write(encodeHeader(header), this.headerOffset);
    this.header = header;
  }

  /** Writes the whole BAT sectors holding entries [low, high). */
  async #writeBatEntries(low: number, high: number): Promise<void> {
    const perSector = SECTOR_SIZE / 4;
    const first = Math.floor(low / perSector) * perSector;
    const last = Math.ceil(high / perSector) * perSector;
    const buf = Buffer.alloc((last - first) * 4, 0xff);
    const stop = Math.min(last, this.bat.length);
    for (let i = first; i < stop; i++) buf.writeUInt32BE(this.bat[i]!, (i - first) * 4);
    await this.#write(buf, this.header.tableOffset + first * 4);
  }

  async #writeTrailingFooter(): Promise<void> {
    await this.#write(encodeFooter(this.footer), this.#end);
    const size = this.#end + FOOTER_SIZE;
    if (this.#fileSize !== size) {
      this.#point('write');
      await this.#handle.truncate(size);
    }
    this.#fileSize = size;
  }

  async #write(buf: Buffer, position: number): Promise<void> {
    this.#point('write');
    await writeFully(this.#handle, buf, position);
  }
}

async function writeFully(handle: FileHandle, buf: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesWritten } = await handle.write(buf, done, buf.length - done, position + done);
    done += bytesWritten;
  }
}
