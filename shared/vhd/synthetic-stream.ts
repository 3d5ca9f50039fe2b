// A whole chain as ONE dynamic VHD stream — what a restore sends to XAPI's /import_raw_vdi.
//
// Layout (docs/vhd-module.md, "Synthetic stream"): footer copy @0, dynamic header @512, BAT @1536
// (sector padded), then every block allocated anywhere in the chain, in index order, each as a
// full sector bitmap (all sectors marked: the block holds the chain's merged data) followed by
// blockSize bytes read through the ChainReader, and the footer again at the end. The layout is
// planned from the chain's allocation alone, so the length is known before the first byte; block
// data is read one block ahead of the consumer and never more: the chunks come from a generator
// the consumer pulls (syntheticVhdChunks, what the storage agent sends from, with block buffers it
// hands back), or the same through a Readable's backpressure (syntheticVhdStream).
import { Readable } from 'node:stream';
import type { ReusedBuffers } from '../reused-buffers.js';
import type { ChainReader } from './chain-reader.js';
import {
  BAT_ABSENT,
  DiskType,
  FOOTER_SIZE,
  HEADER_SIZE,
  SECTOR_SIZE,
  batSize,
  bitmapSize,
  blockCount,
  dateFromVhdTimestamp,
  encodeBat,
  encodeFooter,
  encodeHeader,
  fullBitmap,
  newBat,
  newFooter,
  newHeader,
  VhdFormatError,
  type DynamicHeader,
  type Footer,
} from './format/index.js';

export interface SyntheticStreamOptions {
  /** Footer uuid of the stream; defaults to the chain head's (the newest disk's) uuid. */
  uuid?: string;
  /**
   * Where blocks are read (syntheticVhdChunks only): each block is then yielded as ONE chunk, its
   * bitmap and data in a buffer taken from `blockBuffers`, which stays the consumer's until it gives
   * the buffer back — kept memory for every block instead of a fresh 2 MiB buffer (and its page
   * faults and collection) per block. Without it a block is yielded as its bitmap, then its data.
   */
  blockBuffers?: ReusedBuffers;
  /**
   * Blocks read ahead of the one being yielded (default 1). A chain read past the page cache
   * waits on the disk for each layer of a block in turn, so a few blocks in flight keep the disk
   * busy; each costs a block buffer and a layer buffer of the reader.
   */
  readAhead?: number;
  /**
   * With `blockBuffers`: bytes left free before each block in its buffer (default 0), where a
   * consumer can put a message header so that the header and the block go out as one buffer,
   * uncopied; the chunk yielded is the block only (find its buffer with `blockBuffers.holder`).
   * A multiple of the sector size, so that the block stays aligned for direct reads.
   */
  blockRoom?: number;
}


export interface SyntheticLayout {
  footer: Footer;
  header: DynamicHeader;
  bat: Uint32Array;
  /** Block indexes emitted, ascending. */
  blocks: number[];
  /** Total bytes of the stream. */
  length: number;
}

const TABLE_OFFSET = FOOTER_SIZE + HEADER_SIZE;
const MAX_SECTOR = 0xfffffffe;

/** Pure: the stream's metadata and length for a disk of this size with these blocks allocated. */
export function planSyntheticLayout(options: {
  currentSize: number;
  blockSize: number;
  allocated: number[];
  uuid: string;
  timestamp: number;
}): SyntheticLayout {
  const entries = blockCount(options.currentSize, options.blockSize);
  const bat = newBat(entries);
  const blockBytes = bitmapSize(options.blockSize) + options.blockSize;
  let offset = TABLE_OFFSET + batSize(entries);
  const blocks = [...options.allocated].sort((a, b) => a - b);
  for (const index of blocks) {
    if (!Number.isInteger(index) || index < 0 || index >= entries) {
      throw new VhdFormatError('synthetic stream', `block ${index} is outside the disk's ${entries} blocks`);
    }
    if (bat[index] !== BAT_ABSENT) throw new VhdFormatError('synthetic stream', `block ${index} listed twice`);
    const sector = offset / SECTOR_SIZE;
    if (sector > MAX_SECTOR) throw new VhdFormatError('synthetic stream', `block ${index} lies past the 2^32 sector limit`);
    bat[index] = sector;
    offset += blockBytes;
  }
  const footer = newFooter({
    diskType: DiskType.Dynamic,
    currentSize: options.currentSize,
    uuid: options.uuid,
    date: dateFromVhdTimestamp(options.timestamp),
  });
  const header = newHeader({ tableOffset: TABLE_OFFSET, maxTableEntries: entries, blockSize: options.blockSize });
  return { footer, header, bat, blocks, length: offset + FOOTER_SIZE };
}

/**
 * The chain read through `chain` as one dynamic VHD stream. The caller keeps ownership of the
 * chain: close it after the stream ends (or is destroyed).
 */
export function syntheticVhdStream(chain: ChainReader, options: SyntheticStreamOptions = {}): { length: number; stream: Readable } {
  const { length, chunks } = syntheticVhdChunks(chain, options);
  return { length, stream: Readable.from(chunks, { objectMode: false, highWaterMark: chain.blockSize }) };
}

/**
 * The same stream as its chunks, in order (footer, header, BAT, then each block's bitmap and
 * data, then the footer), for a consumer that sends each chunk on as it is: a Readable in
 * byte mode joins what it buffers (a block's bitmap and data) into a new buffer on each read,
 * one more 2 MiB allocation and copy per block. Call `return()` on the generator to stop early.
 */
export function syntheticVhdChunks(chain: ChainReader, options: SyntheticStreamOptions = {}): { length: number; chunks: AsyncGenerator<Buffer> } {
  const head = chain.disks[0];
  if (head === undefined) throw new VhdFormatError('synthetic stream', 'the chain has no disks');
  const allocated: number[] = [];
  const entries = blockCount(chain.currentSize, chain.blockSize);
  for (let i = 0; i < entries; i++) if (chain.isAllocated(i)) allocated.push(i);
  const layout = planSyntheticLayout({
    currentSize: chain.currentSize,
    blockSize: chain.blockSize,
    allocated,
    uuid: options.uuid ?? head.footer.uuid,
    timestamp: head.footer.timestamp,
  });
  const readAhead = options.readAhead ?? 1;
  if (!Number.isInteger(readAhead) || readAhead < 1) throw new RangeError(`readAhead ${readAhead} is not a whole number of blocks ≥ 1`);
  const room = options.blockRoom ?? 0;
  if (!Number.isInteger(room) || room < 0 || room % SECTOR_SIZE !== 0) throw new RangeError(`blockRoom ${room} is not a whole number of sectors`);
  return { length: layout.length, chunks: emit(chain, layout, options.blockBuffers, readAhead, room) };
}

async function* emit(chain: ChainReader, layout: SyntheticLayout, buffers: ReusedBuffers | undefined, readAhead: number, room: number): AsyncGenerator<Buffer> {
  const footer = encodeFooter(layout.footer);
  yield footer;
  yield encodeHeader(layout.header);
  yield encodeBat(layout.bat);
  const bitmap = fullBitmap(bitmapSize(chain.blockSize));
  const { blocks } = layout;
  const size = bitmap.length + chain.blockSize;
  const read = buffers === undefined ? (index: number) => prefetch(chain.readBlock(index)) : (index: number) => prefetch(readInto(chain, index, buffers.take(room + size).subarray(room, room + size), bitmap));
  // While block i is yielded, blocks i+1 … i+readAhead are being read.
  const pending: Promise<Buffer>[] = [];
  let next = 0;
  const fill = (): void => {
    while (next < blocks.length && pending.length < readAhead) pending.push(read(blocks[next++]!));
  };
  try {
    fill();
    for (let i = 0; i < blocks.length; i++) {
      const data = await pending.shift()!;
      fill();
      if (buffers !== undefined) {
        yield data;
        continue;
      }
      if (data.length !== chain.blockSize) {
        throw new VhdFormatError(`block ${blocks[i]}`, `chain returned ${data.length} bytes, expected ${chain.blockSize}`);
      }
      yield bitmap;
      yield data;
    }
  } finally {
    // Reads still in flight must settle before the caller closes the chain's files.
    await Promise.allSettled(pending);
  }
  yield footer;
}

/** Block `index` into `buffer` after its full bitmap: the whole buffer. Read in place, then the bitmap written over the stored one. */
async function readInto(chain: ChainReader, index: number, buffer: Buffer, bitmap: Buffer): Promise<Buffer> {
  await chain.readBlockInPlace(index, buffer);
  bitmap.copy(buffer, 0);
  return buffer;
}

/** A block being read; a failure is reported when the block is awaited, never unhandled. */
function prefetch(promise: Promise<Buffer>): Promise<Buffer> {
  promise.catch(() => undefined);
  return promise;
}
