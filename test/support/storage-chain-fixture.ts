// A chain with whole and partly marked blocks for the integrity tests: each layer is a list of
// blocks (pattern data, optionally only a range of sectors marked, as CBT deltas send them), the
// expected content of every date folded from the model, GetDisk read back in both formats with
// the digest of what came back, and a byte flipped in a stored block (and put back).
import { createHash, randomUUID } from 'node:crypto';
import { open } from 'node:fs/promises';
import { DiskDigest, foldedTerm, ruleChecksum, WRITE_RULE, type ChecksumRule } from '../../shared/grpc/disk-checksum.js';
import { checksumRuleFromWire, type WireChecksumRule } from '../../shared/grpc/checksum-rule.js';
import { GetDiskFormat, type StorageClient } from '../../shared/grpc/storage-client.js';
import { parseVhdStream } from '../../shared/vhd/stream-parser.js';
import { VhdFile } from '../../shared/vhd/vhd-file.js';
import { BLOCK, diskHeader, patternBlock, records } from './storage-harness.js';

export const SECTOR = 512;
const FULL = Buffer.alloc(BLOCK / SECTOR / 8, 0xff);

export interface ModelBlock {
  index: number;
  seed: number;
  /** Marked sectors [from, to); absent = every sector. */
  sectors?: [number, number];
}

export type ChainModel = ModelBlock[][];

/** A full and three deltas (16 blocks of 2 MiB): whole blocks, and partly marked ones in each layer but the last. */
export const MIXED_CHAIN: ChainModel = [
  [{ index: 0, seed: 1 }, { index: 1, seed: 1 }, { index: 3, seed: 1 }, { index: 5, seed: 1 }, { index: 9, seed: 1 }, { index: 14, seed: 1, sectors: [0, 2048] }],
  [{ index: 1, seed: 2 }, { index: 3, seed: 2, sectors: [1024, 3072] }, { index: 12, seed: 2 }],
  [{ index: 3, seed: 3, sectors: [0, 512] }, { index: 5, seed: 3, sectors: [2000, 2100] }],
  [{ index: 9, seed: 4 }],
];

function bitmapOf(block: ModelBlock): Buffer | undefined {
  if (!block.sectors) return undefined;
  const bitmap = Buffer.alloc(FULL.length);
  for (let s = block.sectors[0]; s < block.sectors[1]; s++) bitmap[s >> 3]! |= 0x80 >> (s & 7);
  return bitmap;
}

/** The content of every allocated block of date `n`, folded newest first (unmarked sectors of the base are zeros). */
export function foldedDate(model: ChainModel, n: number): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  const indexes = [...new Set(model.slice(0, n + 1).flatMap((layer) => layer.map((b) => b.index)))].sort((a, b) => a - b);
  for (const index of indexes) {
    const data = Buffer.alloc(BLOCK);
    const done = new Uint8Array(BLOCK / SECTOR);
    for (let layer = n; layer >= 0; layer--) {
      const block = model[layer]!.find((b) => b.index === index);
      if (!block) continue;
      const source = patternBlock(block.seed, index);
      const [from, to] = block.sectors ?? [0, BLOCK / SECTOR];
      for (let s = from; s < to; s++) {
        if (done[s]) continue;
        source.copy(data, s * SECTOR, s * SECTOR, (s + 1) * SECTOR);
        done[s] = 1;
      }
    }
    out.set(index, data);
  }
  return out;
}

/** DiskDigest over each block's term by `rule` (full bitmap): what the chain digest of a date must be (commits take it by the piece rule). */
export function digestOfBlocks(blocks: Map<number, Buffer>, rule: ChecksumRule = WRITE_RULE): Buffer {
  const digest = new DiskDigest();
  for (const index of [...blocks.keys()].sort((a, b) => a - b)) digest.add(index, foldedTerm(rule, FULL, blocks.get(index)!));
  return digest.digest();
}

/** The rule a GetDisk header or vhdStart announces (one this version knows, or the test fails). */
export function ruleOf(announced: WireChecksumRule): ChecksumRule {
  const rule = checksumRuleFromWire(announced);
  if (rule === undefined) throw new Error(`the stream announced checksum rule ${announced}, which is not known`);
  return rule;
}

export interface UploadedChain {
  vmUuid: string;
  ids: string[];
  uuids: string[];
}

/** Uploads and commits the layers of `model` from `from` on as backups `ids[n]`. */
export async function uploadChain(client: StorageClient, chain: UploadedChain, model: ChainModel, from = 0, size = 32 * 1024 * 1024): Promise<void> {
  for (let n = from; n < model.length; n++) {
    const { vmUuid, ids, uuids } = chain;
    const header = diskHeader({ vmUuid, backupId: ids[n]!, footerUuid: uuids[n]!, parentFooterUuid: n === 0 ? '' : uuids[n - 1]!, virtualSize: size });
    await client.putDisk(header, model[n]!.map((b) => ({ index: b.index, data: patternBlock(b.seed, b.index), bitmap: bitmapOf(b) })));
    await client.commitBackup({
      backupId: ids[n]!,
      vmUuid,
      timestampMs: Date.parse('2026-11-26T10:00:00Z') + n * 86_400_000,
      diskKeys: ['xvda'],
      recordsJson: records(vmUuid),
      policyJson: '',
      diskSources: [],
    });
  }
}

export function newChain(length: number): UploadedChain {
  const ids = Array.from({ length }, (_, n) => `2026112${6 + n}T100000Z-${n === 0 ? 'f' : `d${n}`}`);
  return { vmUuid: randomUUID(), ids, uuids: ids.map(() => randomUUID()) };
}

export interface DiskRead {
  blocks: Map<number, Buffer>;
  /** DiskDigest over each block's checksum (bitmap as sent, data) by the rule the stream announced. */
  digest: Buffer;
}

/** GetDisk BLOCKS; checks each block's checksum and the trailer against what came. */
export async function readBlocks(client: StorageClient, vmUuid: string, backupId: string): Promise<DiskRead> {
  const blocks = new Map<number, Buffer>();
  const digest = new DiskDigest();
  let trailer: Buffer | undefined;
  let rule: ChecksumRule = 'whole';
  for await (const part of client.getDiskParts(vmUuid, backupId, 'xvda', GetDiskFormat.GET_DISK_FORMAT_BLOCKS)) {
    if (part.$case === 'header') rule = ruleOf(part.value.checksumRule);
    else if (part.$case === 'block') {
      const { index, bitmap, data, checksum } = part.value;
      if (!ruleChecksum(rule, bitmap, data, data.length).equals(checksum)) throw new Error(`${backupId} block ${index}: the checksum sent is not the data's`);
      digest.add(index, checksum);
      blocks.set(index, Buffer.from(data));
    } else if (part.$case === 'trailer') trailer = Buffer.from(part.value.digest);
  }
  const result = digest.digest();
  if (!trailer?.equals(result)) throw new Error(`${backupId}: the trailer's digest is not the blocks'`);
  return { blocks, digest: result };
}

/** GetDisk VHD, parsed as a VHD stream. */
export async function readVhd(client: StorageClient, vmUuid: string, backupId: string): Promise<DiskRead> {
  let rule: ChecksumRule = 'whole';
  async function* chunks(): AsyncGenerator<Buffer> {
    for await (const part of client.getDiskParts(vmUuid, backupId, 'xvda', GetDiskFormat.GET_DISK_FORMAT_VHD)) {
      if (part.$case === 'vhdStart') rule = ruleOf(part.value.checksumRule);
      if (part.$case === 'vhdChunk') yield Buffer.from(part.value);
    }
  }
  const stream = await parseVhdStream(chunks());
  const blocks = new Map<number, Buffer>();
  const digest = new DiskDigest();
  for await (const block of stream.blocks()) {
    digest.add(block.index, ruleChecksum(rule, block.bitmap, block.data, block.data.length));
    blocks.set(block.index, block.data);
  }
  return { blocks, digest: digest.digest() };
}

/** Flips one bit of block `index`'s data (at `at` within it) in the VHD at `path`; returns the undo. */
export async function flipByte(path: string, index: number, at = 12345): Promise<() => Promise<void>> {
  const file = await VhdFile.open(path);
  const offset = file.blockOffset(index)! + file.bitmapSize + at;
  await file.close();
  const handle = await open(path, 'r+');
  try {
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, offset);
    await handle.write(Buffer.from([byte[0]! ^ 0x20]), 0, 1, offset);
    return async () => {
      const h = await open(path, 'r+');
      await h.write(byte, 0, 1, offset);
      await h.close();
    };
  } finally {
    await handle.close();
  }
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
