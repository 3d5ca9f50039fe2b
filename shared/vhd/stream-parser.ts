// Parses a VHD as a stream — footer copy, header, BAT, blocks, footer — as XAPI's
// `export_raw_vdi?format=vhd` and `qemu-img convert -O vpc` lay it out, yielding whole blocks.
//
// The structures must come in that order; gaps between them (XAPI's zeros at 1536, parent locator
// data, padding between blocks) are skipped without copying, up to MAX_GAP bytes each. Before
// any block is read the BAT is checked as a whole (block-layout.ts): entries may appear in any
// order in the table but, sorted by offset, must start after the BAT and not overlap; blocks are
// then yielded in file order. Nothing is allocated from a size in the input before that size is
// checked against LIMITS; the largest buffer is one block (or a BAT of at most MAX_BAT_BYTES).
// By default every block comes in a buffer of its own (or a view of an input chunk that held it
// whole). With `reuseBuffers` the parser allocates one block buffer for the whole stream and
// lends it out: a block is a view of the input chunk when one chunk holds it, otherwise it is
// copied into that buffer, overwritten by the next block — no allocation per block, so a long
// parse does not feed the garbage collector 2 MiB of external memory per block.
// The stream must end with a footer byte-identical to the first one, within MAX_GAP bytes of the
// last block, so garbage after the data ends the parse with an error rather than a hang.
import { dynamicBlockOrder } from './block-layout.js';
import { ChunkReader } from './chunk-reader.js';
import { DiskType, FOOTER_SIZE, HEADER_SIZE, LIMITS, SECTOR_SIZE, VhdFormatError, bitmapSize, decodeBat, decodeFooter, decodeHeader, type DynamicHeader, type Footer } from './format/index.js';
import type { VhdBlock, VhdDescription } from './types.js';

/** Largest gap skipped between two structures (or after the last block). */
export const MAX_GAP = 64 * 1024 * 1024;
/** Largest BAT read from a stream: 16 Mi entries, 32 TiB of 2 MiB blocks. */
export const MAX_BAT_BYTES = LIMITS.maxBatEntries * 4;

export interface VhdStream extends VhdDescription {
  header: DynamicHeader;
  /**
   * The blocks in stream order; may be iterated once. Ends after checking the trailing footer,
   * then releases the input. With `reuseBuffers: true` each block is BORROWED: see that option.
   */
  blocks(): AsyncGenerator<VhdBlock>;
  /**
   * Releases the input (destroys a Readable) without reading further: for a caller that stops
   * before or while iterating `blocks()` (a pending `next()` finishes first; later ones end the
   * iteration). Safe to call more than once, and after the blocks ran out.
   */
  close(): Promise<void>;
}

export interface ParseVhdStreamOptions {
  /** Names the stream in errors ("export of VDI 3f…"); default "VHD stream". */
  where?: string;
  /**
   * BORROWED BLOCKS. When true, a yielded block's `bitmap` and `data` are valid ONLY UNTIL THE
   * CONSUMER ASKS FOR THE NEXT BLOCK (or ends the iteration): the parser then overwrites them
   * with the next block, or they are views of an input chunk the input may recycle. Work awaited
   * inside the loop body is fine (`await file.write(block.data)`); a consumer that keeps block
   * bytes beyond it (queues them, starts a write it does not await, collects blocks in an array)
   * must copy them first (`Buffer.from(block.data)`), or leave this option off. In exchange the
   * parser allocates nothing per block, and the input may recycle its chunks too: in this mode a
   * chunk need only stay intact until the parser asks the input for the next one.
   * Default false: every block's buffers belong to the consumer, and chunks must not be recycled.
   */
  reuseBuffers?: boolean;
}

export async function parseVhdStream(
  input: AsyncIterable<Buffer | Uint8Array> | Iterable<Buffer | Uint8Array>,
  options: ParseVhdStreamOptions = {},
): Promise<VhdStream> {
  const name = options.where ?? 'VHD stream';
  const reader = new ChunkReader(input);
  try {
    const { footer, bytes: footerBytes } = await readFooter(reader, name);
    const header = await readHeader(reader, name, footer);
    const bat = await readBat(reader, name, header);
    const order = dynamicBlockOrder(bat, { dataOffset: footer.dataOffset!, header, where: name, blocksAfterBat: true });
    let blocks: AsyncGenerator<VhdBlock> | undefined;
    let closed = false;
    const reuse = options.reuseBuffers === true;
    return {
      footer,
      header,
      bat,
      blocks() {
        if (closed) throw new Error(`${name}: blocks() called after close()`);
        if (blocks) throw new Error(`${name}: blocks() may be iterated only once`);
        blocks = readBlocks(reader, name, { footer, footerBytes, header, bat, order }, reuse);
        return blocks;
      },
      async close() {
        closed = true;
        // Queued behind a pending next(), whose reads must not see the reader closed under them.
        await blocks?.return(undefined);
        await reader.close();
      },
    };
  } catch (error) {
    await reader.close();
    throw error;
  }
}

async function readFooter(reader: ChunkReader, name: string): Promise<{ footer: Footer; bytes: Buffer }> {
  const where = `${name}: footer at byte 0`;
  const bytes = Buffer.from(await reader.read(FOOTER_SIZE, where));
  const footer = decodeFooter(bytes, where);
  if (footer.diskType === DiskType.Fixed) throw new VhdFormatError(where, 'fixed VHDs cannot be streamed; expected dynamic or differencing');
  return { footer, bytes };
}

async function readHeader(reader: ChunkReader, name: string, footer: Footer): Promise<DynamicHeader> {
  const at = footer.dataOffset!;
  await skipTo(reader, at, `${name}: footer at byte 0`, 'dynamic header');
  const where = `${name}: dynamic header at byte ${at}`;
  return decodeHeader(await reader.read(HEADER_SIZE, where), footer.currentSize, where);
}

async function readBat(reader: ChunkReader, name: string, header: DynamicHeader): Promise<Uint32Array> {
  const where = `${name}: dynamic header`;
  const bytes = checkStreamBat(header, where);
  await skipTo(reader, header.tableOffset, where, 'BAT');
  const buf = await reader.read(bytes, `${name}: BAT at byte ${header.tableOffset}`);
  return decodeBat(buf, header.maxTableEntries);
}

/** The BAT's size in bytes; refused past MAX_BAT_BYTES, the most a stream reader holds. */
export function checkStreamBat(header: DynamicHeader, where: string): number {
  const bytes = header.maxTableEntries * 4;
  if (bytes > MAX_BAT_BYTES) {
    throw new VhdFormatError(where, `BAT of ${header.maxTableEntries} entries is past the limit of ${MAX_BAT_BYTES / 4}`);
  }
  return bytes;
}

/** Skips to `target`, which must not be behind the reader nor more than MAX_GAP ahead. */
async function skipTo(reader: ChunkReader, target: number, where: string, what: string): Promise<void> {
  const gap = target - reader.position;
  if (gap < 0) throw new VhdFormatError(where, `${what} at byte ${target} overlaps the structure before it (ends at byte ${reader.position})`);
  if (gap > MAX_GAP) throw new VhdFormatError(where, `${what} at byte ${target} is more than ${MAX_GAP} bytes past byte ${reader.position}`);
  if (gap > 0) await reader.skip(gap, `${where}: skipping to the ${what} at byte ${target}`);
}

interface Layout {
  footer: Footer;
  footerBytes: Buffer;
  header: DynamicHeader;
  bat: Uint32Array;
  order: Uint32Array;
}

async function* readBlocks(reader: ChunkReader, name: string, layout: Layout, reuse: boolean): AsyncGenerator<VhdBlock> {
  const { header, bat, order } = layout;
  const bitmapBytes = bitmapSize(header.blockSize);
  const blockBytes = bitmapBytes + header.blockSize;
  try {
    // Borrowed mode: bitmap and data are read separately, so the data can be a view of a chunk.
    const lent = reuse && order.length > 0 ? Buffer.allocUnsafe(blockBytes) : undefined;
    const lentBitmap = lent?.subarray(0, bitmapBytes);
    const lentData = lent?.subarray(bitmapBytes);
    for (const index of order) {
      const at = bat[index]! * SECTOR_SIZE;
      await skipTo(reader, at, name, `block ${index}`);
      if (lentBitmap && lentData) {
        // The bitmap is copied: reading the data may pull a chunk, and the input may recycle the last one.
        await reader.copyInto(lentBitmap, `${name}: bitmap of block ${index} at byte ${at}`);
        const data = await reader.readInto(lentData, `${name}: data of block ${index} at byte ${at + bitmapBytes}`);
        yield { index, bitmap: lentBitmap, data };
      } else {
        const buf = await reader.read(blockBytes, `${name}: block ${index} at byte ${at}`);
        yield { index, bitmap: buf.subarray(0, bitmapBytes), data: buf.subarray(bitmapBytes) };
      }
    }
    await checkTrailingFooter(reader, name, layout);
  } finally {
    await reader.close();
  }
}

/** The last 512 bytes must be a footer byte-identical to the copy at 0 (as XAPI, qemu and we write). */
async function checkTrailingFooter(reader: ChunkReader, name: string, layout: Layout): Promise<void> {
  const after = reader.position;
  const tail = await reader.readTail(FOOTER_SIZE, MAX_GAP + FOOTER_SIZE, `${name}: trailing footer after byte ${after}`);
  const where = `${name}: trailing footer at byte ${reader.position - FOOTER_SIZE}`;
  const last = decodeFooter(tail, where);
  if (tail.equals(layout.footerBytes)) return;
  const first = layout.footer;
  const fields = Object.keys(first) as (keyof Footer)[];
  const differs = fields.filter((k) => JSON.stringify(last[k]) !== JSON.stringify(first[k]));
  const what = differs.length > 0 ? differs.join(', ') : 'reserved bytes';
  throw new VhdFormatError(where, `does not match the footer at byte 0 (${what} differ)`);
}
