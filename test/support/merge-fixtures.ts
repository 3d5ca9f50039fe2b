// Small VHD chains for merge tests, with an in-memory model of what each prefix of the chain must
// read. Layers are written with VhdWriter (base dynamic, the rest differencing, each the parent of
// the next); the model applies each layer's marked sectors over the previous ones, computed without
// any VHD reader. Only for small disks (tests use 64 KiB blocks and a few MiB).
import { cp, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ChainReader } from '../../shared/vhd/chain-reader.js';
import { DiskType, SECTOR_SIZE, isSectorMarked, markSector } from '../../shared/vhd/format/index.js';
import { VhdWriter } from '../../shared/vhd/vhd-writer.js';
import { SeededBytes } from './vhd-raw-image.js';

export interface BlockSpec {
  index: number;
  /** Marked sectors; every sector when omitted, none when empty. */
  sectors?: number[];
}

export interface LayerSpec {
  name: string;
  /** Bytes (a multiple of 512). */
  size: number;
  blocks: BlockSpec[];
}

export interface MergeFixture {
  dir: string;
  blockSize: number;
  /** Base first. */
  paths: string[];
  uuids: string[];
  /** The content the chain ending at layer `top` (inclusive) must read. */
  model(top: number): Buffer;
}

export const uuidFor = (n: number): string => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;

export async function buildLayers(dir: string, layers: LayerSpec[], options: { blockSize: number; seed: string }): Promise<MergeFixture> {
  const { blockSize } = options;
  const random = new SeededBytes(options.seed);
  const written: Array<Array<{ index: number; data: Buffer; bitmap: Buffer }>> = [];
  const paths: string[] = [];
  const uuids: string[] = [];
  for (const [n, layer] of layers.entries()) {
    const uuid = uuidFor(n + 1);
    const parent = n === 0 ? undefined : { uuid: uuids[n - 1]!, timestamp: 1000 + n, relativeName: `./${layers[n - 1]!.name}` };
    const writer = await VhdWriter.create({
      path: join(dir, layer.name),
      diskType: parent ? DiskType.Differencing : DiskType.Dynamic,
      currentSize: layer.size,
      uuid,
      blockSize,
      parent,
      date: new Date(Date.UTC(2024, 0, 1 + n)),
    });
    const blocks: Array<{ index: number; data: Buffer; bitmap: Buffer }> = [];
    for (const spec of layer.blocks) {
      const data = random.bytes(blockSize);
      const bitmap = Buffer.alloc(writer.bitmapSize, spec.sectors ? 0 : 0xff);
      for (const s of spec.sectors ?? []) markSector(bitmap, s);
      await writer.writeBlock(spec.index, data, bitmap);
      blocks.push({ index: spec.index, data, bitmap });
    }
    const { path } = await writer.finish();
    paths.push(path);
    uuids.push(uuid);
    written.push(blocks);
  }
  const model = (top: number): Buffer => {
    const size = layers[top]!.size;
    const out = Buffer.alloc(size);
    for (let n = 0; n <= top; n++) {
      for (const { index, data, bitmap } of written[n]!) applyBlock(out, index * blockSize, data, bitmap);
    }
    return out;
  };
  return { dir, blockSize, paths, uuids, model };
}

function applyBlock(out: Buffer, start: number, data: Buffer, bitmap: Buffer): void {
  for (let s = 0; s < data.length / SECTOR_SIZE; s++) {
    const at = start + s * SECTOR_SIZE;
    if (at >= out.length) return;
    const end = Math.min(at + SECTOR_SIZE, out.length);
    if (isSectorMarked(bitmap, s)) data.copy(out, at, s * SECTOR_SIZE, s * SECTOR_SIZE + (end - at));
  }
}

/** Everything the chain whose newest disk is `path` reads, and how many disks it has. */
export async function readChain(path: string): Promise<{ data: Buffer; depth: number }> {
  const chain = await ChainReader.open(path);
  try {
    return { data: await chain.read(0, chain.currentSize), depth: chain.disks.length };
  } finally {
    await chain.close();
  }
}

/** Copies every file of `from` into `to` (a fresh scenario for one crash point). */
export async function copyFolder(from: string, to: string): Promise<void> {
  await cp(from, to, { recursive: true });
}

/** Names in `dir` that start with a dot (state files, locks, temporaries). */
export async function hiddenFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.startsWith('.')).sort();
}

/** Sectors [from, to). */
export function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}
