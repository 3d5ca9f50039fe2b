// The `.sums` file: block checksums of one VHD file (docs/remote-format.md §6).
//   0 magic "DCSUMS\r\n" · 8 version u32 · 12 block size u32 · 16 entry count u32 · 20 reserved[12]
//   32 entries (index u32, sha256[32]), ascending · then SHA-256 of everything before it.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { CHECKSUM_SIZE, DiskDigest } from '../../shared/grpc/disk-checksum.js';
import { RemoteFormatError } from './errors.js';
import { writeFileAtomic } from './atomic-write.js';

const MAGIC = Buffer.from('DCSUMS\r\n', 'latin1');
const VERSION = 1;
const HEAD = 32;
const ENTRY = 4 + CHECKSUM_SIZE;

/** Block index → checksum, plus the block size they were computed for. */
export interface BlockSums {
  blockSize: number;
  /** Ascending by index when produced by this module. */
  sums: Map<number, Buffer>;
}

export function encodeSums({ blockSize, sums }: BlockSums): Buffer {
  const indexes = [...sums.keys()].sort((a, b) => a - b);
  const out = Buffer.alloc(HEAD + indexes.length * ENTRY + CHECKSUM_SIZE);
  MAGIC.copy(out, 0);
  out.writeUInt32BE(VERSION, 8);
  out.writeUInt32BE(blockSize, 12);
  out.writeUInt32BE(indexes.length, 16);
  let at = HEAD;
  for (const index of indexes) {
    out.writeUInt32BE(index, at);
    sums.get(index)!.copy(out, at + 4);
    at += ENTRY;
  }
  createHash('sha256').update(out.subarray(0, at)).digest().copy(out, at);
  return out;
}

export function decodeSums(buf: Buffer, where: string): BlockSums {
  const fail = (message: string): never => {
    throw new RemoteFormatError(`checksum file ${where}: ${message}`);
  };
  if (buf.length < HEAD + CHECKSUM_SIZE || !buf.subarray(0, 8).equals(MAGIC)) fail('not a .sums file (bad magic or too short)');
  const version = buf.readUInt32BE(8);
  if (version !== VERSION) fail(`version ${version} is not supported (expected ${VERSION})`);
  const blockSize = buf.readUInt32BE(12);
  const count = buf.readUInt32BE(16);
  const end = HEAD + count * ENTRY;
  if (buf.length !== end + CHECKSUM_SIZE) fail(`${buf.length} bytes, expected ${end + CHECKSUM_SIZE} for ${count} entries`);
  if (!createHash('sha256').update(buf.subarray(0, end)).digest().equals(buf.subarray(end))) fail('trailing hash mismatch');
  const sums = new Map<number, Buffer>();
  let last = -1;
  for (let at = HEAD; at < end; at += ENTRY) {
    const index = buf.readUInt32BE(at);
    if (index <= last) fail(`entry for block ${index} after block ${last}: not ascending`);
    last = index;
    sums.set(index, Buffer.from(buf.subarray(at + 4, at + ENTRY)));
  }
  return { blockSize, sums };
}

export async function readSumsFile(path: string): Promise<BlockSums> {
  return decodeSums(await readFile(path), path);
}

export async function writeSumsFile(path: string, sums: BlockSums): Promise<void> {
  await writeFileAtomic(path, encodeSums(sums));
}

/** The disk digest of a checksum table (docs/remote-format.md §6). */
export function digestOfSums(sums: Map<number, Buffer>): Buffer {
  const digest = new DiskDigest();
  for (const index of [...sums.keys()].sort((a, b) => a - b)) digest.add(index, sums.get(index)!);
  return digest.digest();
}
