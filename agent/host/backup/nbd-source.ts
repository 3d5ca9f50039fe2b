// A disk's blocks read over the pool's NBD server: for a delta, exactly the 64 KiB extents XAPI's
// CBT bitmap marks, sent packed (only the marked sectors travel, docs/remote-format.md §7); for a
// full, only what base:allocation reports as data, each block sent whole with zeros in its holes.
// Reads go over several connections with a bounded window (shared/nbd NbdDiskReader); a cut
// connection is opened again with a fresh export name from VDI.get_nbd_info (names expire with
// XAPI's session) and its reads asked again. A block is assembled from its ranges as they arrive
// and handed on: at most one block plus the reader's window in memory.
import { bitmapSize } from '../../../shared/vhd/index.js';
import { NbdDiskReader, type NbdConnectOptions, type RangeData } from '../../../shared/nbd/index.js';
import { markSectors, type BlockExtents, type ExtentTotals } from '../plan/block-extents.js';
import type { BlockSource, SourceBlock } from './block-source.js';
import type { SnapshotDisk } from './backup-types.js';
import { ExportInterruptedError } from './export-interrupted-error.js';

const SECTOR_BYTES = 512;

export interface NbdSourceOptions {
  reader: NbdDiskReader;
  disk: SnapshotDisk;
  blockSize: number;
  /** Per block to send, its ranges; called again on each pass (it is a generator over the extents). */
  extents: () => Iterable<BlockExtents>;
  totals: ExtentTotals;
  /** Delta: packed blocks marking only the ranges read. Full: whole blocks, holes zero. */
  mode: 'delta' | 'full';
}

/** What one VDI.get_nbd_info record says, as connect options (TLS pinned to its certificate). */
export function nbdEndpoint(record: Record<string, unknown>, options: { blockStatus: boolean; maxInFlightBytes: number }): NbdConnectOptions {
  const cert = typeof record['cert'] === 'string' ? record['cert'] : '';
  const subject = typeof record['subject'] === 'string' ? record['subject'] : '';
  return {
    host: String(record['address']),
    port: Number(record['port']),
    exportName: String(record['exportname']),
    ...(cert === '' ? {} : { tls: { ca: cert, subject } }),
    blockStatus: options.blockStatus,
    maxInFlightBytes: options.maxInFlightBytes,
  };
}

export class NbdSource implements BlockSource {
  readonly method = 'cbt-nbd';
  readonly virtualSize: number;
  readonly blockSize: number;
  readonly expected: { blocks: number; bytes: number };
  private cancelled = false;

  constructor(private readonly options: NbdSourceOptions) {
    this.virtualSize = options.disk.virtualSize;
    this.blockSize = options.blockSize;
    const bitmapBytes = bitmapSize(options.blockSize);
    const { blocks, bytes } = options.totals;
    this.expected = { blocks, bytes: options.mode === 'delta' ? blocks * bitmapBytes + bytes : blocks * (bitmapBytes + options.blockSize) };
  }

  async *blocks(): AsyncIterable<SourceBlock> {
    const { reader, extents } = this.options;
    const queue: BlockExtents[] = [];
    const ranges = function* () {
      for (const block of extents()) {
        queue.push(block);
        yield* block.ranges;
      }
    };
    let pieces: RangeData[] = [];
    let pending = 0;
    for await (const piece of reader.readRanges(ranges())) {
      pieces.push(piece);
      pending += piece.data.length;
      const block = queue[0]!;
      if (pending < block.bytes) continue;
      queue.shift();
      yield this.assemble(block, pieces);
      pieces = [];
      pending = 0;
    }
  }

  finished(): Promise<void> {
    return this.options.reader.close();
  }

  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.options.reader.close().catch(() => undefined);
  }

  async blame(error: unknown, progress: string): Promise<unknown> {
    return new ExportInterruptedError(this.options.disk.snapshotVdiUuid, this.options.disk.diskKey, error, undefined, `${progress} read over NBD`);
  }

  private assemble(block: BlockExtents, pieces: readonly RangeData[]): SourceBlock {
    const { blockSize } = this;
    const bitmap = Buffer.alloc(bitmapSize(blockSize));
    if (this.options.mode === 'full') {
      const data = Buffer.alloc(blockSize);
      const start = block.index * blockSize;
      for (const piece of pieces) data.set(piece.data, piece.offset - start);
      bitmap.fill(0xff);
      return { index: block.index, bitmap, data, packed: false };
    }
    markSectors(bitmap, block.index, blockSize, block.ranges);
    // The disk's last sector may be cut short by its size: the packed form carries whole sectors.
    // The replies as they came, not joined: the upload hashes and encodes them in order.
    const tail = block.bytes % SECTOR_BYTES === 0 ? [] : [Buffer.alloc(SECTOR_BYTES - (block.bytes % SECTOR_BYTES))];
    const data = pieces.length === 1 && tail.length === 0 ? pieces[0]!.data : [...pieces.map((p) => p.data), ...tail];
    return { index: block.index, bitmap, data, packed: true };
  }
}

