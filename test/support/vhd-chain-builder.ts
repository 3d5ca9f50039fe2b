// Builds VHD chains for tests together with an independent model of what they must read: each
// layer's blocks are written with VhdWriter, and the same bytes — only the sectors its bitmap
// marks — are written into a plain raw file, base first. The raw file is the expected content
// of the whole chain, computed without any VHD reader.
import { open, type FileHandle } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { DiskType, SECTOR_SIZE, blockCount, markSector } from '../../shared/vhd/format/index.js';
import { VhdWriter } from '../../shared/vhd/vhd-writer.js';
import { SeededBytes } from './vhd-raw-image.js';

export interface ChainSpec {
  /** Folder to write into. */
  dir: string;
  /** Bytes (a multiple of 512). */
  size: number;
  /** Number of disks: one dynamic base and depth-1 differencing disks. */
  depth: number;
  seed: number | string;
  blockSize?: number;
  /** Share of blocks each layer writes (0..1); default 0.35. */
  density?: number;
  /**
   * Differencing layers also write partial blocks, marking random whole 4 KiB pages (libvhdi
   * misreads partly marked bitmap bytes, see vhd-format.md). The base always marks every sector.
   */
  partialPages?: boolean;
}

export interface BuiltChain {
  /** Child first, base last (the order ChainReader and libvhdi's set_parent use). */
  paths: string[];
  uuids: string[];
  /** Raw file with the expected content of the whole chain. */
  expectedRaw: string;
}

const uuidOf = (seed: number | string, layer: number): string => {
  const hex = new SeededBytes(`uuid:${seed}:${layer}`).bytes(16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
};

export async function buildChain(spec: ChainSpec): Promise<BuiltChain> {
  const blockSize = spec.blockSize ?? 2 * 1024 * 1024;
  const random = new SeededBytes(`chain:${spec.seed}`);
  const expectedRaw = join(spec.dir, 'expected.raw');
  const model = await open(expectedRaw, 'w');
  const paths: string[] = [];
  const uuids: string[] = [];
  try {
    await model.truncate(spec.size);
    for (let layer = 0; layer < spec.depth; layer++) {
      const name = `disk-${String(layer).padStart(2, '0')}.vhd`;
      const uuid = uuidOf(spec.seed, layer);
      const parent = layer === 0 ? undefined : { uuid: uuids[0]!, timestamp: 0, relativeName: `./${basename(paths[0]!)}` };
      const writer = await VhdWriter.create({
        path: join(spec.dir, name),
        diskType: parent ? DiskType.Differencing : DiskType.Dynamic,
        currentSize: spec.size,
        uuid,
        blockSize,
        parent,
      });
      const layerBlocks = pickBlocks(random, blockCount(spec.size, blockSize), spec.density ?? 0.35);
      for (const index of layerBlocks) {
        const data = random.bytes(blockSize);
        const bitmap = parent && spec.partialPages && random.int(2) === 0 ? pageBitmap(random, writer.bitmapSize, blockSize) : undefined;
        await writer.writeBlock(index, data, bitmap);
        await applyToModel(model, spec.size, index * blockSize, data, bitmap);
      }
      const { path } = await writer.finish();
      paths.unshift(path);
      uuids.unshift(uuid);
    }
  } finally {
    await model.close();
  }
  return { paths, uuids, expectedRaw };
}

function pickBlocks(random: SeededBytes, count: number, density: number): number[] {
  const out: number[] = [];
  const threshold = Math.round(density * 1000);
  for (let i = 0; i < count; i++) if (random.int(1000) < threshold) out.push(i);
  if (out.length === 0) out.push(random.int(count));
  return out;
}

/** Marks random whole 4 KiB pages (8 sectors = one bitmap byte), at least one. */
function pageBitmap(random: SeededBytes, bytes: number, blockSize: number): Buffer {
  const bitmap = Buffer.alloc(bytes);
  const pages = blockSize / 4096;
  for (let p = 0; p < pages; p++) {
    if (random.int(3) === 0) for (let s = 0; s < 8; s++) markSector(bitmap, p * 8 + s);
  }
  if (bitmap.every((b) => b === 0)) bitmap[random.int(pages)] = 0xff;
  return bitmap;
}

/** Writes the marked sectors (all when no bitmap) of a block into the model, clipped to the disk. */
async function applyToModel(
  model: FileHandle,
  size: number,
  blockStart: number,
  data: Buffer,
  bitmap: Buffer | undefined,
): Promise<void> {
  const sectors = data.length / SECTOR_SIZE;
  let s = 0;
  while (s < sectors) {
    if (bitmap && !isMarked(bitmap, s)) {
      s++;
      continue;
    }
    let e = s + 1;
    while (e < sectors && (!bitmap || isMarked(bitmap, e))) e++;
    const start = blockStart + s * SECTOR_SIZE;
    const end = Math.min(size, blockStart + e * SECTOR_SIZE);
    if (end > start) await model.write(data, s * SECTOR_SIZE, end - start, start);
    s = e;
  }
}

/** Deliberately not the module's bitmap helper: the model stays independent of the code under test. */
function isMarked(bitmap: Buffer, sector: number): boolean {
  return (bitmap[sector >> 3]! & (0x80 >> (sector & 7))) !== 0;
}
