// The parse half of `npm run bench:vhd`: ways of reading a VHD file through parseVhdStream,
// each drained block by block (the blocks are counted, not copied: a borrowed block is let go
// before the next is asked for). Rows, from what a caller gets by default to the parser on an
// input that allocates nothing, plus one reference row with no parser at all:
//   fresh / borrowed  — parseVhdStream's default (a new buffer per block) or `reuseBuffers: true`;
//   createReadStream  — fs.createReadStream with 64 KiB reads (Node's default, about what an HTTP
//                       body delivers) or 2 MiB reads; it allocates a fresh buffer per read;
//   recycled reads    — recycledFileChunks: two 4 MiB buffers used in turn, nothing allocated;
//   no parser         — iterating each input alone (createReadStream with 2 MiB reads, recycled
//                       4 MiB reads): the most any parser reading through it can reach.
import { createReadStream } from 'node:fs';
import { parseVhdStream } from '../../shared/vhd/stream-parser.js';
import { recycledFileChunks } from './recycled-file-chunks.js';

const KiB = 1024;
const MiB = 1024 * KiB;

export interface ParseCase {
  /** Row label: "(borrowed, createReadStream 2 MiB)". */
  label: string;
  /** Reads the whole file; resolves to the number of blocks (or chunks) seen. */
  run(path: string): Promise<number>;
}

async function drain(input: AsyncIterable<Buffer>, reuseBuffers: boolean): Promise<number> {
  const parsed = await parseVhdStream(input, { reuseBuffers });
  let blocks = 0;
  for await (const _ of parsed.blocks()) blocks++;
  return blocks;
}

function readStream(path: string, highWaterMark: number): AsyncIterable<Buffer> {
  return createReadStream(path, { highWaterMark });
}

export const PARSE_CASES: ParseCase[] = [
  { label: 'fresh, createReadStream 64 KiB', run: (path) => drain(readStream(path, 64 * KiB), false) },
  { label: 'borrowed, createReadStream 64 KiB', run: (path) => drain(readStream(path, 64 * KiB), true) },
  { label: 'fresh, createReadStream 2 MiB', run: (path) => drain(readStream(path, 2 * MiB), false) },
  { label: 'borrowed, createReadStream 2 MiB', run: (path) => drain(readStream(path, 2 * MiB), true) },
  { label: 'borrowed, recycled 4 MiB reads', run: (path) => drain(recycledFileChunks(path, 4 * MiB), true) },
  { label: 'no parser: createReadStream 2 MiB alone', run: (path) => count(readStream(path, 2 * MiB)) },
  { label: 'no parser: recycled 4 MiB reads alone', run: (path) => count(recycledFileChunks(path, 4 * MiB)) },
];

async function count(input: AsyncIterable<Buffer>): Promise<number> {
  let chunks = 0;
  for await (const _ of input) chunks++;
  return chunks;
}
