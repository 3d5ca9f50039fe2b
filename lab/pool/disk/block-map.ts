// A VDI's block map: for each 2 MiB block of the disk, the slot holding its data in the SR's
// block store (or NO_SLOT: reads as zeros) and a generation number; and for each 64 KiB chunk
// (XAPI's CBT granularity) the generation of its last write. Generations are unique per write
// (never reused while any map holds them), so two maps hold the same content for a block when
// their block generations are equal — how a delta export finds changed blocks without reading
// data — and for a chunk when its chunk generations are equal — how CBT finds changed chunks,
// exactly the ones written. A map whose data was destroyed (CBT metadata) keeps generations and
// no slots.
//
// File format (`<vdi uuid>.map`, big-endian): "DCLABMAP" | u32 version | u32 entries |
// u64 virtual size | entries × (u32 slot, u32 generation) | version 2: entries × chunks per
// block × u32 chunk generation. Version 1 (no chunk generations) is read as every chunk of a
// block written with the block.
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../../../shared/files/atomic-write.js';
import { LabDiskError } from './lab-disk-error.js';

export const NO_SLOT = 0xffffffff;
/** Generation of a block never written: its content is zeros. */
export const ZERO_GENERATION = 0;
const MAGIC = 'DCLABMAP';
const VERSION = 2;
const HEADER_BYTES = 24;
/** The unit of chunk generations: XAPI's CBT granularity, 64 KiB. */
export const CHUNK_SIZE = 64 * 1024;

export interface BlockMap {
  /** Bytes. */
  virtualSize: number;
  /** Chunk generations per block: block size / 64 KiB, or 1 for smaller blocks. */
  chunksPerBlock: number;
  slots: Uint32Array;
  generations: Uint32Array;
  /** Generation of each chunk's last write: entries × chunksPerBlock. */
  chunkGenerations: Uint32Array;
}

export function chunksPerBlock(blockSize: number): number {
  return Math.max(1, Math.floor(blockSize / CHUNK_SIZE));
}

export function newBlockMap(virtualSize: number, blockSize: number): BlockMap {
  const entries = Math.ceil(virtualSize / blockSize);
  const perBlock = chunksPerBlock(blockSize);
  return {
    virtualSize,
    chunksPerBlock: perBlock,
    slots: new Uint32Array(entries).fill(NO_SLOT),
    generations: new Uint32Array(entries),
    chunkGenerations: new Uint32Array(entries * perBlock),
  };
}

export function copyBlockMap(map: BlockMap): BlockMap {
  return { ...map, slots: map.slots.slice(), generations: map.generations.slice(), chunkGenerations: map.chunkGenerations.slice() };
}

export function encodeBlockMap(map: BlockMap): Buffer {
  const entries = map.slots.length;
  const buf = Buffer.alloc(HEADER_BYTES + entries * 8 + map.chunkGenerations.length * 4);
  buf.write(MAGIC, 0, 'latin1');
  buf.writeUInt32BE(VERSION, 8);
  buf.writeUInt32BE(entries, 12);
  buf.writeBigUInt64BE(BigInt(map.virtualSize), 16);
  for (let i = 0; i < entries; i++) {
    buf.writeUInt32BE(map.slots[i]!, HEADER_BYTES + i * 8);
    buf.writeUInt32BE(map.generations[i]!, HEADER_BYTES + i * 8 + 4);
  }
  const chunks = HEADER_BYTES + entries * 8;
  for (let i = 0; i < map.chunkGenerations.length; i++) buf.writeUInt32BE(map.chunkGenerations[i]!, chunks + i * 4);
  return buf;
}

export function decodeBlockMap(buf: Buffer, where: string, blockSize: number): BlockMap {
  if (buf.length < HEADER_BYTES || buf.toString('latin1', 0, 8) !== MAGIC) {
    throw new LabDiskError(`${where}: not a block map (bad magic)`);
  }
  const version = buf.readUInt32BE(8);
  if (version !== 1 && version !== VERSION) throw new LabDiskError(`${where}: block map version ${version}, expected 1 or ${VERSION}`);
  const entries = buf.readUInt32BE(12);
  const perBlock = chunksPerBlock(blockSize);
  const expected = HEADER_BYTES + entries * 8 + (version === 1 ? 0 : entries * perBlock * 4);
  if (buf.length !== expected) {
    throw new LabDiskError(`${where}: ${buf.length} bytes, expected ${expected} for ${entries} entries of ${blockSize}-byte blocks`);
  }
  const map: BlockMap = {
    virtualSize: Number(buf.readBigUInt64BE(16)),
    chunksPerBlock: perBlock,
    slots: new Uint32Array(entries),
    generations: new Uint32Array(entries),
    chunkGenerations: new Uint32Array(entries * perBlock),
  };
  for (let i = 0; i < entries; i++) {
    map.slots[i] = buf.readUInt32BE(HEADER_BYTES + i * 8);
    map.generations[i] = buf.readUInt32BE(HEADER_BYTES + i * 8 + 4);
  }
  const chunks = HEADER_BYTES + entries * 8;
  for (let i = 0; i < map.chunkGenerations.length; i++) {
    map.chunkGenerations[i] = version === 1 ? map.generations[Math.floor(i / perBlock)]! : buf.readUInt32BE(chunks + i * 4);
  }
  return map;
}

export async function saveBlockMap(path: string, map: BlockMap): Promise<void> {
  await writeFileAtomic(path, encodeBlockMap(map), { mode: 0o600 });
}

export async function loadBlockMap(path: string, blockSize: number): Promise<BlockMap> {
  return decodeBlockMap(await readFile(path), path, blockSize);
}
