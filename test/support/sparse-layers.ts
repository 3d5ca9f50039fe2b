// A disk's backups as layers of blocks, some whole and some marking only sectors (as a CBT delta
// marks its changed 64 KiB extents), with the raw image each backup must restore to — computed
// here from the layers, never read back through our own VHD code. Block content comes from
// patternBlock(seed, index): a layer's block takes the sectors it marks from its seed's pattern.
import type { OutgoingBlock } from '../../shared/grpc/storage-client.js';
import { BLOCK, patternBlock } from './storage-harness.js';

export const SECTOR = 512;
export const EXTENT = 64 * 1024;
const EXTENT_SECTORS = EXTENT / SECTOR;

export interface LayerBlock {
  index: number;
  /** Sectors the block marks; undefined = the whole block. */
  sectors?: number[];
}

export interface Layer {
  seed: number;
  blocks: LayerBlock[];
}

/** The sectors of 64 KiB extents `extents` of a block. */
export function extentSectors(...extents: number[]): number[] {
  return extents.flatMap((e) => Array.from({ length: EXTENT_SECTORS }, (_, i) => e * EXTENT_SECTORS + i));
}

/** The 8 sectors of 4 KiB page `page` of a block (one whole bitmap byte). */
export function pageSectors(page: number): number[] {
  return Array.from({ length: 8 }, (_, i) => page * 8 + i);
}

export function bitmapOf(sectors: number[], bytes = 512): Buffer {
  const bitmap = Buffer.alloc(bytes);
  for (const s of sectors) bitmap[s >> 3]! |= 0x80 >> (s & 7);
  return bitmap;
}

/** The marked sectors of a block's pattern, in order: its packed data. */
export function packedData(seed: number, block: LayerBlock): Buffer {
  const whole = patternBlock(seed, block.index);
  const sectors = [...new Set(block.sectors)].sort((a, b) => a - b);
  return Buffer.concat(sectors.map((s) => whole.subarray(s * SECTOR, (s + 1) * SECTOR)));
}

/**
 * The layer's blocks for StorageClient.putDisk: `whole` hands partially marked blocks whole with
 * their bitmap (for `packPartialBlocks`, which packs them), `packed` hands them packed already.
 */
export function outgoingBlocks(layer: Layer, form: 'whole' | 'packed'): OutgoingBlock[] {
  return layer.blocks.map((block) => {
    if (block.sectors === undefined) return { index: block.index, data: patternBlock(layer.seed, block.index) };
    const bitmap = bitmapOf(block.sectors);
    return form === 'whole'
      ? { index: block.index, data: patternBlock(layer.seed, block.index), bitmap }
      : { index: block.index, data: packedData(layer.seed, block), bitmap, packed: true };
  });
}

/** The raw images a restore of each backup must give: layers applied in order over zeros. */
export function expectedImages(layers: Layer[], size: number): Buffer[] {
  const disk = Buffer.alloc(size);
  return layers.map((layer) => {
    for (const block of layer.blocks) {
      const whole = patternBlock(layer.seed, block.index);
      const at = block.index * BLOCK;
      if (block.sectors === undefined) whole.copy(disk, at);
      else for (const s of block.sectors) whole.copy(disk, at + s * SECTOR, s * SECTOR, (s + 1) * SECTOR);
    }
    return Buffer.from(disk);
  });
}

/** Marked bytes of a layer's partially marked blocks: what it sends and stores of them. */
export function markedBytes(layer: Layer): number {
  return layer.blocks.reduce((sum, b) => sum + (b.sectors === undefined ? 0 : new Set(b.sectors).size * SECTOR), 0);
}
