// parseVhdStream's borrowed mode (`reuseBuffers: true`) keeps its promises: one recycled buffer
// for blocks that span chunks, a view (no copy) for a block one chunk holds, correct bytes when
// each block is consumed before the next is asked for — also from an input that recycles its own
// chunk memory — while the default mode keeps giving every block memory of its own. And close()
// releases the input whether blocks() was never called, is half way, or has a next() pending.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { markSector, parseVhdStream } from './index.js';
import { buildVhdStream, chunked, type StreamBlock } from './testing/build-vhd-stream.js';

const KiB = 1024;
const BS = 64 * KiB;

function data(seed: number, size = BS): Buffer {
  const buf = Buffer.alloc(size);
  for (let i = 0; i < size; i += 4) buf.writeUInt32LE((seed * 2654435761 + i * 40503) >>> 0, i);
  return buf;
}

/** Five blocks, out of table order, each with its own bitmap. */
function sample(): { bytes: Buffer; blocks: Required<StreamBlock>[] } {
  const blocks = [4, 0, 7, 2, 5].map((index) => {
    const bitmap = Buffer.alloc(512);
    markSector(bitmap, index);
    markSector(bitmap, 100 + index);
    return { index, data: data(index + 1), bitmap };
  });
  return { bytes: buildVhdStream({ currentSize: 8 * BS, blockSize: BS, blocks, blockPadding: 1024 }).bytes, blocks };
}

/**
 * Yields `bytes` in `size`-byte chunks all living in ONE buffer, which is scribbled over when the
 * next chunk is asked for: what a reader recycling its read buffer does to a consumer.
 */
async function* recycled(bytes: Buffer, size: number): AsyncGenerator<Buffer> {
  const buffer = Buffer.alloc(size);
  for (let at = 0; at < bytes.length; at += size) {
    buffer.fill(0xee);
    const n = bytes.copy(buffer, 0, at, at + size);
    yield buffer.subarray(0, n);
  }
  buffer.fill(0xee);
}

describe('parseVhdStream borrowed buffers', () => {
  it('recycles one buffer for blocks that span chunks; each block is right until the next is asked for', async () => {
    const { bytes, blocks } = sample();
    const stream = await parseVhdStream(chunked(bytes, 7000), { reuseBuffers: true });
    const memory = new Set<ArrayBufferLike>();
    let first: Buffer | undefined;
    let k = 0;
    for await (const block of stream.blocks()) {
      assert.equal(block.index, blocks[k]!.index);
      assert.ok(block.data.equals(blocks[k]!.data), `block ${block.index} data`);
      assert.ok(block.bitmap.equals(blocks[k]!.bitmap), `block ${block.index} bitmap`);
      assert.equal(block.bitmap.buffer, block.data.buffer, 'bitmap and data share the block buffer');
      memory.add(block.data.buffer);
      first ??= block.data;
      k++;
    }
    assert.equal(k, blocks.length);
    assert.equal(memory.size, 1, 'every block in the same recycled buffer');
    // Borrowed means borrowed: the first block's data now holds the last block's bytes.
    assert.ok(first!.equals(blocks.at(-1)!.data));
  });

  it('the default mode gives every block its own memory, safe to keep', async () => {
    const { bytes, blocks } = sample();
    const stream = await parseVhdStream(chunked(bytes, 7000));
    const kept = [];
    for await (const block of stream.blocks()) kept.push(block);
    assert.equal(new Set(kept.map((b) => b.data.buffer)).size, blocks.length);
    kept.forEach((block, k) => {
      assert.ok(block.data.equals(blocks[k]!.data));
      assert.ok(block.bitmap.equals(blocks[k]!.bitmap));
    });
  });

  it('yields a view of the input when one chunk holds the block data (no copy)', async () => {
    const { bytes, blocks } = sample();
    const stream = await parseVhdStream([bytes], { reuseBuffers: true });
    let k = 0;
    for await (const block of stream.blocks()) {
      assert.equal(block.data.buffer, bytes.buffer, 'data is a view of the one chunk');
      assert.ok(block.data.equals(blocks[k]!.data));
      assert.ok(block.bitmap.equals(blocks[k]!.bitmap));
      k++;
    }
    assert.equal(k, blocks.length);
  });

  it('parses an input that recycles its chunk memory, in any chunk size', async () => {
    const { bytes, blocks } = sample();
    for (const size of [512, 1000, 4096, 70_000, 3 * BS, bytes.length]) {
      const stream = await parseVhdStream(recycled(bytes, size), { reuseBuffers: true, where: `chunks of ${size}` });
      assert.equal(stream.header.blockSize, BS);
      let k = 0;
      for await (const block of stream.blocks()) {
        assert.equal(block.index, blocks[k]!.index, `chunks of ${size}`);
        assert.ok(block.data.equals(blocks[k]!.data), `chunks of ${size}: block ${block.index} data`);
        assert.ok(block.bitmap.equals(blocks[k]!.bitmap), `chunks of ${size}: block ${block.index} bitmap`);
        k++;
      }
      assert.equal(k, blocks.length, `chunks of ${size}`);
    }
  });
});

describe('VhdStream.close', () => {
  for (const reuseBuffers of [false, true]) {
    const mode = reuseBuffers ? 'borrowed' : 'fresh';

    it(`releases the input when blocks() is never called (${mode})`, async () => {
      const source = Readable.from(chunked(sample().bytes, 4096), { objectMode: false });
      const stream = await parseVhdStream(source, { reuseBuffers });
      assert.equal(source.destroyed, false);
      await stream.close();
      assert.equal(source.destroyed, true);
      assert.throws(() => stream.blocks(), /blocks\(\) called after close\(\)/);
      await stream.close();
    });

    it(`ends an iteration half way and releases the input (${mode})`, async () => {
      const { bytes, blocks } = sample();
      const source = Readable.from(chunked(bytes, 4096), { objectMode: false });
      const stream = await parseVhdStream(source, { reuseBuffers });
      const seen: number[] = [];
      for await (const block of stream.blocks()) {
        seen.push(block.index);
        if (seen.length === 2) await stream.close();
      }
      assert.deepEqual(seen, blocks.slice(0, 2).map((b) => b.index));
      assert.equal(source.destroyed, true);
    });

    it(`lets a pending next() finish first, then ends the blocks (${mode})`, async () => {
      const { bytes, blocks } = sample();
      const source = Readable.from(chunked(bytes, 4096), { objectMode: false });
      const stream = await parseVhdStream(source, { reuseBuffers });
      const iterator = stream.blocks();
      const pending = iterator.next();
      const closing = stream.close();
      const got = await pending;
      assert.equal(got.done, false);
      assert.equal(got.done === false && got.value.index, blocks[0]!.index);
      await closing;
      assert.equal(source.destroyed, true);
      assert.deepEqual(await iterator.next(), { done: true, value: undefined });
    });
  }

  it('is harmless after the blocks ran out', async () => {
    const stream = await parseVhdStream(chunked(sample().bytes, 4096), { reuseBuffers: true });
    let n = 0;
    for await (const _ of stream.blocks()) n++;
    assert.equal(n, 5);
    await stream.close();
    await stream.close();
  });
});
