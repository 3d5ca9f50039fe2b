// ChainReader over real files written by VhdWriter: newest data wins, sector bitmaps are honoured,
// broken links are refused with the path named, and a merge in its last steps is tolerated.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ChainReader, DiskType, VhdChainError, VhdWriter, markSector } from './index.js';
import { writeMergeState } from './merge-state.js';

const MiB = 1024 * 1024;
const BS = 64 * 1024; // small blocks keep the files tiny
const SIZE = 8 * BS - 1024;
const U = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;

function fill(byte: number): Buffer {
  return Buffer.alloc(BS, byte);
}

function bitmapOf(sectors: number[]): Buffer {
  const bm = Buffer.alloc(512);
  for (const s of sectors) markSector(bm, s);
  return bm;
}

interface Layer {
  name: string;
  uuid: string;
  parent?: { name: string; uuid: string; relativeName?: string };
  blocks: [number, Buffer, Buffer?][];
  blockSize?: number;
}

async function writeLayer(dir: string, layer: Layer): Promise<void> {
  const writer = await VhdWriter.create({
    path: join(dir, layer.name),
    diskType: layer.parent ? DiskType.Differencing : DiskType.Dynamic,
    currentSize: SIZE,
    uuid: layer.uuid,
    blockSize: layer.blockSize ?? BS,
    parent: layer.parent && { uuid: layer.parent.uuid, timestamp: 0, relativeName: layer.parent.relativeName ?? `./${layer.parent.name}` },
  });
  for (const [i, data, bitmap] of layer.blocks) await writer.writeBlock(i, data, bitmap);
  await writer.finish();
}

describe('ChainReader', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'deltachain-chain-reader-'));
    await writeLayer(dir, { name: 'base.vhd', uuid: U(1), blocks: [[0, fill(1)], [1, fill(1)], [2, fill(1)], [7, fill(1)]] });
    await writeLayer(dir, {
      name: 'mid.vhd',
      uuid: U(2),
      parent: { name: 'base.vhd', uuid: U(1) },
      blocks: [[1, fill(2)], [2, fill(2), bitmapOf([0, 1, 2, 3, 4, 5, 6, 7, 9])], [4, fill(2), bitmapOf([3])]],
    });
    await writeLayer(dir, {
      name: 'top.vhd',
      uuid: U(3),
      parent: { name: 'mid.vhd', uuid: U(2) },
      blocks: [[2, fill(3), bitmapOf([1, 9, 10, 127])], [3, fill(3)]],
    });
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('returns the newest data per block and sector', async () => {
    const chain = await ChainReader.open(join(dir, 'top.vhd'));
    try {
      assert.deepEqual(chain.disks.map((d) => d.footer.uuid), [U(3), U(2), U(1)]);
      assert.equal(chain.currentSize, SIZE);
      assert.equal(chain.blockCount, 8);
      assert.deepEqual(chain.allocatedBlocks(), [0, 1, 2, 3, 4, 7]);
      assert.equal(chain.isAllocated(5), false);
      assert.ok((await chain.readBlock(0)).equals(fill(1)));
      assert.ok((await chain.readBlock(1)).equals(fill(2)));
      assert.ok((await chain.readBlock(3)).equals(fill(3)));
      assert.ok((await chain.readBlock(5)).equals(Buffer.alloc(BS)));
      const expected2 = Buffer.alloc(BS, 1);
      for (const s of [0, 2, 3, 4, 5, 6, 7]) expected2.fill(2, s * 512, s * 512 + 512);
      for (const s of [1, 9, 10, 127]) expected2.fill(3, s * 512, s * 512 + 512);
      assert.ok((await chain.readBlock(2)).equals(expected2));
      // Block 4 exists only in mid with one sector; the rest falls through to the base (absent: zeros).
      const expected4 = Buffer.alloc(BS);
      expected4.fill(2, 3 * 512, 4 * 512);
      assert.ok((await chain.readBlock(4)).equals(expected4));
      const span = await chain.read(2 * BS - 100, BS + 200);
      assert.ok(span.equals(Buffer.concat([fill(2).subarray(BS - 100), expected2, fill(3).subarray(0, 100)])));
      assert.equal((await chain.read(SIZE - 10, 10)).length, 10);
      await assert.rejects(chain.read(SIZE - 10, 11), RangeError);
      await assert.rejects(chain.readBlock(8), RangeError);
    } finally {
      await chain.close();
    }
  });

  it('reads into a buffer of the caller the same bytes, whatever that buffer held, and refuses one too small', async () => {
    const chain = await ChainReader.open(join(dir, 'top.vhd'));
    try {
      const into = Buffer.alloc(BS + 7, 0xee);
      for (let index = 0; index < chain.blockCount; index++) {
        const fresh = await chain.readBlock(index);
        into.fill(0xee);
        const read = await chain.readBlock(index, into);
        assert.equal(read.length, BS);
        assert.equal(read.buffer, into.buffer, `block ${index} is written into the buffer given`);
        assert.ok(read.equals(fresh), `block ${index}: the same bytes as a fresh read`);
      }
      const [a, b] = await Promise.all([chain.readBlock(2, Buffer.alloc(BS, 9)), chain.readBlock(4, Buffer.alloc(BS, 9))]);
      assert.ok(a.equals(await chain.readBlock(2)) && b.equals(await chain.readBlock(4)), 'two reads in flight do not share a layer buffer');
      await assert.rejects(chain.readBlock(1, Buffer.alloc(BS - 1)), RangeError);
    } finally {
      await chain.close();
    }
  });

  it('holds no more layer buffers than layerBuffers: reads in flight wait for one and return the same bytes', async () => {
    const free = await ChainReader.open(join(dir, 'top.vhd'));
    const expected = new Map<number, Buffer>();
    try {
      for (const index of [2, 4]) expected.set(index, Buffer.from(await free.readBlock(index)));
    } finally {
      await free.close();
    }
    for (const limit of [1, 2]) {
      const capped = await ChainReader.open(join(dir, 'top.vhd'), { layerBuffers: limit });
      // Older layers are read through the reader's layer buffers: count the memories they use.
      const used = new Set<ArrayBufferLike>();
      const chain = capped.withBlockCheck({
        async check(layer, block) {
          await new Promise((resolve) => setImmediate(resolve)); // let the other reads interleave
          if (layer > 0) used.add(block.data.buffer);
        },
      });
      try {
        const indexes = Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? 2 : 4));
        const reads = await Promise.all(indexes.map((index) => chain.readBlock(index, Buffer.alloc(BS, 9))));
        reads.forEach((read, i) => assert.ok(read.equals(expected.get(indexes[i]!)!), `read ${i} (block ${indexes[i]}) with ${limit} layer buffers`));
        assert.equal(used.size, limit, `12 reads in flight shared ${limit} layer buffer(s)`);
      } finally {
        await chain.close();
      }
    }
    await assert.rejects(ChainReader.open(join(dir, 'top.vhd'), { layerBuffers: 0 }), /layerBuffers 0 is not a whole number/);
  });

  it('gives a layer buffer back when a read fails, so the reads waiting for it go on', { timeout: 10_000 }, async () => {
    const free = await ChainReader.open(join(dir, 'top.vhd'));
    const expected = Buffer.from(await free.readBlock(4));
    await free.close();
    const capped = await ChainReader.open(join(dir, 'top.vhd'), { layerBuffers: 1 });
    let failed = false;
    const chain = capped.withBlockCheck({
      async check(layer, block) {
        await new Promise((resolve) => setImmediate(resolve));
        // The first read of block 2 to reach an older layer fails there, holding the one buffer.
        if (layer > 0 && block.index === 2 && !failed) {
          failed = true;
          throw new Error('damaged layer');
        }
      },
    });
    try {
      const reads = [chain.readBlock(2, Buffer.alloc(BS)), ...Array.from({ length: 5 }, () => chain.readBlock(4, Buffer.alloc(BS)))];
      const settled = await Promise.allSettled(reads);
      assert.equal(settled[0]!.status, 'rejected', 'the damaged read fails');
      for (const s of settled.slice(1)) assert.ok(s.status === 'fulfilled' && s.value.equals(expected), 'the reads that waited for the buffer complete with their bytes');
      assert.ok((await chain.readBlock(2, Buffer.alloc(BS))).length === BS, 'and the reader reads on');
    } finally {
      await chain.close();
    }
  });

  it('hands every contributing raw block to its BlockCheck once, newest first, and fails the read when the check throws', async () => {
    const raw = await ChainReader.open(join(dir, 'top.vhd'));
    const seen: string[] = [];
    let closed = false;
    const chain = raw.withBlockCheck({
      check(layer, block) {
        seen.push(`${block.index}@${layer}:${block.bitmap.length}+${block.data.length}`);
        if (block.index === 7) throw new Error('block 7 is bad');
      },
      async close() {
        closed = true;
      },
    });
    try {
      for (const index of [0, 1, 2, 3, 4, 5]) await chain.readBlock(index);
      // 1: mid marks every sector, so the base's block 1 is never read; 2: top, mid, then base
      // for the sectors neither marks; 4: mid marks one sector and the base lacks the block.
      assert.deepEqual(seen, ['0@2:512+65536', '1@1:512+65536', '2@0:512+65536', '2@1:512+65536', '2@2:512+65536', '3@0:512+65536', '4@1:512+65536']);
      await assert.rejects(chain.readBlock(7), /block 7 is bad/);
      assert.ok((await raw.readBlock(7)).equals(fill(1)), 'the reader without the check shares the files and checks nothing');
    } finally {
      await chain.close();
    }
    assert.equal(closed, true);
  });

  it('hands a check the marked sectors of a partly marked block (the others unspecified), or its stored bytes when the check asks for them', async () => {
    const raw = await ChainReader.open(join(dir, 'top.vhd'));
    const unmarkedBytes = (stored: boolean) => {
      const seen = new Map<string, number>();
      return {
        seen,
        check: raw.withBlockCheck({
          needsStoredBytes: () => stored,
          check(layer, block) {
            // Sector 0 of top's block 2 is unmarked, sector 1 marked; the file holds fill(3) in both.
            seen.set(`${block.index}@${layer}`, block.data[0]!);
            seen.set(`${block.index}@${layer}:marked`, block.data[512]!);
          },
        }),
      };
    };
    try {
      const marked = unmarkedBytes(false);
      const whole = unmarkedBytes(true);
      const a = await marked.check.readBlock(2);
      const b = await whole.check.readBlock(2);
      assert.ok(a.equals(b), 'the folded block is the same either way');
      assert.equal(marked.seen.get('2@0:marked'), 3, 'marked-only read: the marked sectors as stored (the unmarked ones are neither read nor zeroed)');
      assert.equal(whole.seen.get('2@0'), 3, 'stored bytes: what the file holds');
      assert.equal(whole.seen.get('2@0:marked'), 3);
    } finally {
      await raw.close();
    }
  });

  it('refuses a missing parent, a uuid mismatch, a loop, an absolute name and mixed block sizes', async () => {
    const cases: [Layer, RegExp][] = [
      [{ name: 'orphan.vhd', uuid: U(10), parent: { name: 'gone.vhd', uuid: U(1) }, blocks: [] }, /gone\.vhd does not exist/],
      [{ name: 'wrong.vhd', uuid: U(11), parent: { name: 'base.vhd', uuid: U(99) }, blocks: [] }, /has uuid .*made from/],
      [{ name: 'loop.vhd', uuid: U(12), parent: { name: 'loop.vhd', uuid: U(12) }, blocks: [] }, /already in the chain/],
      [{ name: 'abs.vhd', uuid: U(15), parent: { name: 'base.vhd', uuid: U(1), relativeName: '/etc/base.vhd' }, blocks: [] }, /is absolute/],
      [{ name: 'big.vhd', uuid: U(13), blockSize: 2 * MiB, blocks: [] }, /^$/],
      [{ name: 'small.vhd', uuid: U(14), parent: { name: 'big.vhd', uuid: U(13) }, blocks: [] }, /block size 65536 differs/],
    ];
    for (const [layer, error] of cases) {
      await writeLayer(dir, layer);
      if (error.source === '^$') continue;
      await assert.rejects(ChainReader.open(join(dir, layer.name)), (e: unknown) => {
        assert.ok(e instanceof VhdChainError, String(e));
        assert.equal(e.code, 'VHD_CHAIN_INVALID');
        assert.match(e.message, error);
        assert.ok(e.message.startsWith(join(dir, layer.name)) || e.message.includes(dir));
        return true;
      });
    }
  });

  it('accepts a parent carrying the child uuid only while a merge state file explains it', async () => {
    // base2 plays a parent whose footer already took the child's uuid (U(21)) mid-merge.
    await writeLayer(dir, { name: 'base2.vhd', uuid: U(21), blocks: [[0, fill(5)]] });
    await writeLayer(dir, { name: 'delta2.vhd', uuid: U(21), parent: { name: 'base2.vhd', uuid: U(20) }, blocks: [[1, fill(6)]] });
    await assert.rejects(ChainReader.open(join(dir, 'delta2.vhd')), VhdChainError);
    const now = new Date().toISOString();
    const state = {
      version: 1 as const, child: 'delta2.vhd', parent: 'base2.vhd', childUuid: U(21), parentUuid: U(20),
      step: 'footer' as const, nextBlock: 8, blocksMerged: 1, totalBlocks: 1, startedAt: now, updatedAt: now,
    };
    await writeMergeState(dir, state);
    const chain = await ChainReader.open(join(dir, 'delta2.vhd'));
    assert.ok((await chain.readBlock(0)).equals(fill(5)));
    assert.ok((await chain.readBlock(1)).equals(fill(6)));
    await chain.close();
    await writeMergeState(dir, { ...state, child: 'other.vhd' });
    await assert.rejects(ChainReader.open(join(dir, 'delta2.vhd')), VhdChainError);
  });
});
