// parseVhdStream on valid input: the XAPI layout, qemu-img's layout, our writer's differencing
// files, BAT entries out of table order, padding between blocks, and any chunking — each in both
// buffer modes (fresh buffers per block, and borrowed buffers the parser recycles). The borrowed
// mode's own promises (one recycled buffer, views of whole chunks, recycled input chunks) and
// close() are tested in stream-parser.borrowed.test.ts.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { DiskType, VhdWriter, markSector, parseVhdStream, type VhdBlock } from './index.js';
import { TEST_PARENT_UUID, TEST_UUID, buildVhdStream, chunked } from './testing/build-vhd-stream.js';

const KiB = 1024;
const MiB = 1024 * KiB;

function data(seed: number, size: number): Buffer {
  const buf = Buffer.alloc(size);
  for (let i = 0; i < size; i += 4) buf.writeUInt32LE((seed * 2246822519 + i * 3266489917) >>> 0, i);
  return buf;
}

async function collect(iterable: AsyncIterable<VhdBlock>): Promise<VhdBlock[]> {
  const out: VhdBlock[] = [];
  for await (const block of iterable) out.push({ index: block.index, bitmap: Buffer.from(block.bitmap), data: Buffer.from(block.data) });
  return out;
}

for (const reuseBuffers of [false, true]) describe(`parseVhdStream (${reuseBuffers ? 'borrowed' : 'fresh'} buffers)`, () => {
  const options = { reuseBuffers };
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'deltachain-stream-parser-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('parses the XAPI layout (header @512, zeros, BAT @2048) in any chunking', async () => {
    const blocks = [0, 2, 5].map((index) => ({ index, data: data(index, 64 * KiB) }));
    const { bytes } = buildVhdStream({ currentSize: 6 * 64 * KiB - 512, blockSize: 64 * KiB, blocks });
    for (const sizes of [bytes.length, 65536, 512, 7, [1, 1000, 3, 70000]]) {
      const stream = await parseVhdStream(chunked(bytes, sizes), options);
      assert.equal(stream.footer.uuid, TEST_UUID);
      assert.equal(stream.footer.currentSize, 6 * 64 * KiB - 512);
      assert.equal(stream.header.tableOffset, 2048);
      assert.equal(stream.bat.length, 6);
      const got = await collect(stream.blocks());
      assert.deepEqual(got.map((b) => b.index), [0, 2, 5]);
      got.forEach((b, k) => {
        assert.ok(b.data.equals(blocks[k]!.data), `chunks ${String(sizes)}: block ${b.index}`);
        assert.equal(b.bitmap.length, 512);
      });
    }
  });

  it('yields blocks in file order when the BAT lists them in another order, skipping padding', async () => {
    const blocks = [3, 0, 1].map((index) => ({ index, data: data(index + 10, 4 * KiB) }));
    const bitmap = Buffer.alloc(512);
    markSector(bitmap, 2);
    blocks[1] = { ...blocks[1]!, bitmap } as (typeof blocks)[number];
    const { bytes } = buildVhdStream({ currentSize: 16 * KiB, blockSize: 4 * KiB, blocks, blockPadding: 3 * 512, firstBlockOffset: 8192 });
    const stream = await parseVhdStream(chunked(bytes, 1000), options);
    const got = await collect(stream.blocks());
    assert.deepEqual(got.map((b) => b.index), [3, 0, 1]);
    got.forEach((b, k) => assert.ok(b.data.equals(blocks[k]!.data)));
    assert.ok(got[1]!.bitmap.equals(bitmap));
  });

  it('parses what qemu-img convert -O vpc writes', async () => {
    const raw = Buffer.concat([data(1, 2 * MiB), Buffer.alloc(2 * MiB), data(2, MiB + 512)]);
    const rawPath = join(dir, 'disk.raw');
    const vhdPath = join(dir, 'qemu.vhd');
    await writeFile(rawPath, raw);
    execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'vpc', rawPath, vhdPath]);
    const stream = await parseVhdStream(createReadStream(vhdPath, { highWaterMark: 64 * KiB }), { where: 'qemu.vhd', ...options });
    assert.equal(stream.footer.creatorApplication, 'qemu');
    const image = Buffer.alloc(stream.footer.currentSize);
    for await (const block of stream.blocks()) block.data.copy(image, block.index * 2 * MiB);
    assert.ok(image.subarray(0, raw.length).equals(raw));
  });

  it('parses a differencing VHD written by VhdWriter (locator data between BAT and blocks)', async () => {
    const path = join(dir, 'child.vhd');
    const writer = await VhdWriter.create({
      path,
      diskType: DiskType.Differencing,
      currentSize: 8 * MiB,
      uuid: TEST_UUID,
      parent: { uuid: TEST_PARENT_UUID, timestamp: 12345, relativeName: './parent.vhd' },
    });
    await writer.writeBlock(2, data(7, 2 * MiB));
    await writer.writeBlock(1, data(8, 2 * MiB));
    await writer.finish();
    const stream = await parseVhdStream(Readable.from(chunked(await readFile(path), 100_000)), options);
    assert.equal(stream.footer.diskType, DiskType.Differencing);
    assert.equal(stream.header.parentUuid, TEST_PARENT_UUID);
    assert.equal(stream.header.parentUnicodeName, './parent.vhd');
    const got = await collect(stream.blocks());
    assert.deepEqual(got.map((b) => b.index), [2, 1]);
    assert.ok(got[0]!.data.equals(data(7, 2 * MiB)));
    assert.ok(got[1]!.data.equals(data(8, 2 * MiB)));
  });

  it('parses a disk with no blocks, and stops the source when the consumer stops early', async () => {
    const empty = buildVhdStream({ currentSize: 4 * MiB, blocks: [] }).bytes;
    assert.deepEqual(await collect((await parseVhdStream(chunked(empty, 512), options)).blocks()), []);
    // A plain array of chunks works too.
    assert.deepEqual(await collect((await parseVhdStream([empty.subarray(0, 700), empty.subarray(700)], options)).blocks()), []);

    const blocks = [0, 1, 2].map((index) => ({ index, data: data(index, 64 * KiB) }));
    const { bytes } = buildVhdStream({ currentSize: 3 * 64 * KiB, blockSize: 64 * KiB, blocks });
    const source = Readable.from(chunked(bytes, 4096), { objectMode: false });
    const stream = await parseVhdStream(source, options);
    for await (const block of stream.blocks()) {
      assert.equal(block.index, 0);
      break;
    }
    assert.equal(source.destroyed, true);
    assert.throws(() => stream.blocks(), /only once/);
  });
});
