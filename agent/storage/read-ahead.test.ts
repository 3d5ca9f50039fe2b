// Blocks read ahead of their use: used in order with the bytes of their own block, a failed read
// fails the run where its item comes, and no buffer is reused while a use still holds it.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ChainReader, DiskType, VhdWriter } from '../../shared/vhd/index.js';
import { forEachReadAhead } from './read-ahead.js';

const BS = 64 * 1024;
const BLOCKS = 12;

async function* from<T>(items: T[]): AsyncGenerator<T> {
  for (const item of items) yield item;
}

describe('forEachReadAhead', () => {
  let dir: string;
  let chain: ChainReader;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'deltachain-read-ahead-'));
    const path = join(dir, 'base.vhd');
    const writer = await VhdWriter.create({ path, diskType: DiskType.Dynamic, currentSize: BLOCKS * BS, uuid: '00000000-0000-4000-8000-000000000001', blockSize: BS });
    for (let i = 0; i < BLOCKS; i++) await writer.writeBlock(i, Buffer.alloc(BS, i + 1));
    await writer.finish();
    chain = await ChainReader.open(path);
  });
  after(async () => {
    await chain.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('uses every item in order, each read one with its own block, while later blocks are read', async () => {
    const used: string[] = [];
    const held: Buffer[] = [];
    await forEachReadAhead(
      chain,
      from([...Array(BLOCKS).keys()]),
      (i) => (i % 3 === 1 ? undefined : i),
      async (i, block) => {
        used.push(block === undefined ? `${i}:-` : `${i}:${block[0]}`);
        if (block) held.push(block);
        // A slow use: the reads ahead finish meanwhile and must not land in this block's buffer.
        await new Promise((resolve) => setTimeout(resolve, 5));
        if (block) assert.ok(block.equals(Buffer.alloc(BS, i + 1)), `block ${i} unchanged while in use`);
      },
    );
    assert.deepEqual(used, [...Array(BLOCKS).keys()].map((i) => (i % 3 === 1 ? `${i}:-` : `${i}:${i + 1}`)));
    assert.ok(new Set(held.map((b) => b.buffer)).size <= 3, 'at most depth + 1 buffers');
  });

  it('fails where the failed read comes in order, after the items before it were used', async () => {
    const used: number[] = [];
    await assert.rejects(
      forEachReadAhead(chain, from([0, 1, 2, BLOCKS + 5, 3]), (i) => i, (i) => void used.push(i)),
      RangeError,
    );
    assert.deepEqual(used, [0, 1, 2]);
  });
});
