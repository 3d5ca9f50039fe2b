// Property: for random chains (depth 1–6, random sizes, blocks and sector bitmaps) written with
// VhdWriter, ChainReader.readBlock / read at random offsets equal a plain in-memory model — a
// sector reads from the newest layer whose block marks it, else zeros; so do the blocks of a reader
// making direct reads, and blocks read in place (into a stored block's room). The same files parsed as
// streams give back exactly the blocks and bitmaps written.
import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ChainReader, DiskType, SECTOR_SIZE, VhdWriter, alignedBuffer, bitmapSize, isSectorMarked, parseVhdStream } from './index.js';

interface LayerSpec {
  sizeSectors: number;
  blocks: { index: number; bitmap: Uint8Array }[];
}

interface ChainSpec {
  blockSize: number;
  seed: number;
  layers: LayerSpec[]; // base first
  reads: [number, number][]; // fractions of the size: offset, length
}

const uuid = (n: number) => `aaaaaaaa-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;

function bitmapArb(blockSize: number): fc.Arbitrary<Uint8Array> {
  const bytes = blockSize / SECTOR_SIZE / 8;
  const padded = bitmapSize(blockSize);
  const pad = (head: Uint8Array) => {
    const out = new Uint8Array(padded);
    out.set(head);
    for (let i = bytes; i < padded; i++) out[i] = (i * 151) & 0xff; // junk past the block's sectors
    return out;
  };
  return fc
    .oneof(
      fc.constant(new Uint8Array(bytes).fill(0xff)),
      fc.constant(new Uint8Array(bytes)),
      fc.uint8Array({ minLength: bytes, maxLength: bytes }),
      fc.array(fc.boolean(), { minLength: bytes, maxLength: bytes }).map((pages) => Uint8Array.from(pages, (p) => (p ? 0xff : 0))),
    )
    .map(pad);
}

function layerArb(blockSize: number): fc.Arbitrary<LayerSpec> {
  const sectorsPerBlock = blockSize / SECTOR_SIZE;
  return fc.integer({ min: 1, max: 6 * sectorsPerBlock }).chain((sizeSectors) => {
    const count = Math.ceil(sizeSectors / sectorsPerBlock);
    return fc
      .uniqueArray(fc.nat(count - 1), { maxLength: count })
      .chain((indexes) => fc.tuple(...indexes.map((i) => bitmapArb(blockSize).map((bitmap) => ({ index: i, bitmap })))))
      .map((blocks) => ({ sizeSectors, blocks }));
  });
}

const chainArb: fc.Arbitrary<ChainSpec> = fc.constantFrom(4096, 8192, 65536).chain((blockSize) =>
  fc.record({
    blockSize: fc.constant(blockSize),
    seed: fc.nat(255),
    layers: fc.array(layerArb(blockSize), { minLength: 1, maxLength: 6 }),
    reads: fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true })), {
      minLength: 1,
      maxLength: 6,
    }),
  }),
);

/** Data of block `index` in layer `layer`: each sector filled with a byte naming (layer, block, sector). */
function blockData(spec: ChainSpec, layer: number, index: number): Buffer {
  const data = Buffer.alloc(spec.blockSize);
  for (let s = 0; s < spec.blockSize / SECTOR_SIZE; s++) {
    data.fill((spec.seed + layer * 67 + index * 13 + s * 3 + 1) & 0xff, s * SECTOR_SIZE, (s + 1) * SECTOR_SIZE);
  }
  return data;
}

/** The model: the virtual disk of the newest layer, as one buffer. */
function model(spec: ChainSpec): Buffer {
  const head = spec.layers.at(-1)!;
  const sectors = head.sizeSectors;
  const perBlock = spec.blockSize / SECTOR_SIZE;
  const image = Buffer.alloc(Math.ceil(sectors / perBlock) * spec.blockSize);
  for (let sector = 0; sector < image.length / SECTOR_SIZE; sector++) {
    const index = Math.floor(sector / perBlock);
    for (let layer = spec.layers.length - 1; layer >= 0; layer--) {
      const block = spec.layers[layer]!.blocks.find((b) => b.index === index);
      if (!block || !isSectorMarked(block.bitmap, sector % perBlock)) continue;
      blockData(spec, layer, index).copy(image, sector * SECTOR_SIZE, (sector % perBlock) * SECTOR_SIZE, (sector % perBlock + 1) * SECTOR_SIZE);
      break;
    }
  }
  return image;
}

async function writeChain(dir: string, spec: ChainSpec): Promise<string> {
  let path = '';
  for (const [layer, l] of spec.layers.entries()) {
    path = join(dir, `${layer}.vhd`);
    const writer = await VhdWriter.create({
      path,
      diskType: layer === 0 ? DiskType.Dynamic : DiskType.Differencing,
      currentSize: l.sizeSectors * SECTOR_SIZE,
      uuid: uuid(layer + 1),
      blockSize: spec.blockSize,
      parent: layer === 0 ? undefined : { uuid: uuid(layer), timestamp: layer, relativeName: `./${layer - 1}.vhd` },
    });
    // Write in reverse index order so file order differs from index order.
    for (const b of [...l.blocks].reverse()) await writer.writeBlock(b.index, blockData(spec, layer, b.index), Buffer.from(b.bitmap));
    await writer.finish();
  }
  return path;
}

describe('ChainReader property', () => {
  it('matches an in-memory model for random chains, blocks and bitmaps', async () => {
    await fc.assert(
      fc.asyncProperty(chainArb, async (spec) => {
        const dir = await mkdtemp(join(tmpdir(), 'deltachain-chain-prop-'));
        try {
          const headPath = await writeChain(dir, spec);
          const image = model(spec);
          const size = spec.layers.at(-1)!.sizeSectors * SECTOR_SIZE;
          const chain = await ChainReader.open(headPath);
          try {
            assert.equal(chain.disks.length, spec.layers.length);
            assert.equal(chain.currentSize, size);
            for (let i = 0; i < chain.blockCount; i++) {
              const expected = image.subarray(i * spec.blockSize, (i + 1) * spec.blockSize);
              assert.ok((await chain.readBlock(i)).equals(expected), `block ${i}`);
              assert.ok((await chain.readBlock(i, Buffer.alloc(spec.blockSize, 0xa5))).equals(expected), `block ${i} into a buffer holding other bytes`);
              assert.ok((await chain.readBlockInPlace(i, Buffer.alloc(bitmapSize(spec.blockSize) + spec.blockSize, 0x3c))).equals(expected), `block ${i} read in place`);
              assert.equal(chain.isAllocated(i), spec.layers.some((l) => l.blocks.some((b) => b.index === i)));
            }
            for (const [a, b] of spec.reads) {
              const offset = Math.floor(a * size);
              const length = Math.floor(b * (size - offset));
              assert.ok((await chain.read(offset, length)).equals(image.subarray(offset, offset + length)), `read ${length} at ${offset}`);
            }
          } finally {
            await chain.close();
          }
          const direct = await ChainReader.open(headPath, { directReads: true });
          try {
            const into = Buffer.alloc(spec.blockSize, 0x5a);
            const room = alignedBuffer(bitmapSize(spec.blockSize) + spec.blockSize).fill(0xc3);
            for (let i = 0; i < direct.blockCount; i++) {
              const expected = image.subarray(i * spec.blockSize, (i + 1) * spec.blockSize);
              assert.ok((await direct.readBlock(i, into)).equals(expected), `block ${i}, direct reads`);
              assert.ok((await direct.readBlockInPlace(i, room)).equals(expected), `block ${i}, direct reads in place`);
            }
          } finally {
            await direct.close();
          }
          const stream = await parseVhdStream(createReadStream(headPath, { highWaterMark: 3000 }));
          const written = new Map(spec.layers.at(-1)!.blocks.map((b) => [b.index, b.bitmap]));
          for await (const block of stream.blocks()) {
            assert.ok(block.bitmap.equals(written.get(block.index)!), `stream bitmap ${block.index}`);
            assert.ok(block.data.equals(blockData(spec, spec.layers.length - 1, block.index)), `stream block ${block.index}`);
            written.delete(block.index);
          }
          assert.equal(written.size, 0);
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      }),
      { numRuns: 80 },
    );
  });
});
