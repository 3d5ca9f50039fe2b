// A VDI's block map: for each 2 MiB block of the disk, the slot holding its data in the SR's
// block store (or NO_SLOT: reads as zeros) and a generation number. Generations are unique per
// write of a block (never reused while any map holds them), so two maps hold the same content
// for a block when their generations are equal: that is how a delta export and CBT find changed
// blocks without reading data. A map whose data was destroyed (CBT metadata) keeps generations
// and no slots.
//
// File format (`<vdi uuid>.map`, big-endian): "DCLABMAP" | u32 version | u32 entries |
// u64 virtual size | entries × (u32 slot, u32 generation).
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../../../shared/files/atomic-write.js';
import { LabDiskError } from './lab-disk-error.js';

export const NO_SLOT = 0xffffffff;
/** Generation of a block never written: its content is zeros. */
export const ZERO_GENERATION = 0;
const MAGIC = 'DCLABMAP';
const VERSION = 1;
const HEADER_BYTES = 24;

export interface BlockMap {
  /** Bytes. */
  virtualSize: number;
  slots: Uint32Array;
  generations: Uint32Array;
}

export function newBlockMap(virtualSize: number, blockSize: number): BlockMap {
  const entries = Math.ceil(virtualSize / blockSize);
  return { virtualSize, slots: new Uint32Array(entries).fill(NO_SLOT), generations: new Uint32Array(entries) };
}

export function copyBlockMap(map: BlockMap): BlockMap {
  return { virtualSize: map.virtualSize, slots: map.slots.slice(), generations: map.generations.slice() };
}

export function encodeBlockMap(map: BlockMap): Buffer {
  const entries = map.slots.length;
  const buf = Buffer.alloc(HEADER_BYTES + entries * 8);
  buf.write(MAGIC, 0, 'latin1');
  buf.writeUInt32BE(VERSION, 8);
  buf.writeUInt32BE(entries, 12);
  buf.writeBigUInt64BE(BigInt(map.virtualSize), 16);
  for (let i = 0; i < entries; i++) {
    buf.writeUInt32BE(map.slots[i]!, HEADER_BYTES + i * 8);
    buf.writeUInt32BE(map.generations[i]!, HEADER_BYTES + i * 8 + 4);
  }
  return buf;
}

export function decodeBlockMap(buf: Buffer, where: string): BlockMap {
  if (buf.length < HEADER_BYTES || buf.toString('latin1', 0, 8) !== MAGIC) {
    throw new LabDiskError(`${where}: not a block map (bad magic)`);
  }
  const version = buf.readUInt32BE(8);
  if (version !== VERSION) throw new LabDiskError(`${where}: block map version ${version}, expected ${VERSION}`);
  const entries = buf.readUInt32BE(12);
  if (buf.length !== HEADER_BYTES + entries * 8) {
    throw new LabDiskError(`${where}: ${buf.length} bytes, expected ${HEADER_BYTES + entries * 8} for ${entries} entries`);
  }
  const map: BlockMap = {
    virtualSize: Number(buf.readBigUInt64BE(16)),
    slots: new Uint32Array(entries),
    generations: new Uint32Array(entries),
  };
  for (let i = 0; i < entries; i++) {
    map.slots[i] = buf.readUInt32BE(HEADER_BYTES + i * 8);
    map.generations[i] = buf.readUInt32BE(HEADER_BYTES + i * 8 + 4);
  }
  return map;
}

export async function saveBlockMap(path: string, map: BlockMap): Promise<void> {
  await writeFileAtomic(path, encodeBlockMap(map), { mode: 0o600 });
}

export async function loadBlockMap(path: string): Promise<BlockMap> {
  return decodeBlockMap(await readFile(path), path);
}
