// Direct reads of a chain (direct-io.ts): the same bytes as reads through the page cache, the
// blocks really left out of the page cache (`fincore` counts a file's resident bytes), and the
// page cache used where direct reads cannot be (a caller's own unaligned buffer, a device of
// 4 KiB sectors attached as a loop device, a process whose address space is limited).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { build } from 'esbuild';
import { AlignedBufferPool, alignedBuffer, canReadDirect } from './direct-io.js';
import { ChainReader, DiskType, VhdFile, VhdWriter, bitmapSize } from './index.js';

const MiB = 1024 * 1024;
const BLOCK = 2 * MiB;
const BLOCKS = 8;
const uuid = (n: number) => `bbbbbbbb-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;

function data(layer: number, index: number): Buffer {
  const out = Buffer.alloc(BLOCK);
  for (let i = 0; i < BLOCK; i += 4096) out.fill((layer * 31 + index * 7 + i / 4096) & 0xff, i, i + 4096);
  return out;
}

/** A full base of BLOCKS blocks and a child with every other block, half of each marked. */
async function writeChain(dir: string): Promise<{ head: string; expected: Buffer[] }> {
  const expected: Buffer[] = [];
  const base = await VhdWriter.create({ path: join(dir, 'base.vhd'), diskType: DiskType.Dynamic, currentSize: BLOCKS * BLOCK, uuid: uuid(1), blockSize: BLOCK });
  for (let i = 0; i < BLOCKS; i++) {
    await base.writeBlock(i, data(0, i), Buffer.alloc(bitmapSize(BLOCK), 0xff));
    expected.push(data(0, i));
  }
  await base.finish();
  const head = join(dir, 'child.vhd');
  const child = await VhdWriter.create({
    path: head,
    diskType: DiskType.Differencing,
    currentSize: BLOCKS * BLOCK,
    uuid: uuid(2),
    blockSize: BLOCK,
    parent: { uuid: uuid(1), timestamp: 1, relativeName: './base.vhd' },
  });
  for (let i = 0; i < BLOCKS; i += 2) {
    const bitmap = Buffer.alloc(bitmapSize(BLOCK));
    bitmap.fill(0xff, 0, 256); // the first half of the block's sectors
    await child.writeBlock(i, data(1, i), bitmap);
    data(1, i).copy(expected[i]!, 0, 0, BLOCK / 2);
  }
  await child.finish();
  return { head, expected };
}

/** Writes the file's pages back and drops them from the page cache. */
function evict(path: string): void {
  execFileSync('/usr/bin/python3', ['-c', 'import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); os.fsync(fd); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)', path]);
}

/** Bytes of the file in the page cache. */
function resident(path: string): number {
  return Number(execFileSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', path], { encoding: 'utf8' }).trim());
}

async function readAll(chain: ChainReader, into: (i: number) => Buffer | undefined): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (let i = 0; i < chain.blockCount; i++) out.push(Buffer.from(await chain.readBlock(i, into(i))));
  return out;
}

/** The read syscalls this process made while `work` ran (/proc/self/io counts every thread's), less those of reading the count. */
async function readsDuring(work: () => Promise<void>): Promise<number> {
  const syscr = async () => Number(/^syscr: (\d+)/m.exec(await readFile('/proc/self/io', 'utf8'))![1]);
  const counting = -(await syscr()) + (await syscr());
  const before = await syscr();
  await work();
  return (await syscr()) - before - counting;
}

describe('direct reads of a chain', () => {
  let dir: string;
  let chain: { head: string; expected: Buffer[] };
  const files = () => [chain.head, join(dir, 'base.vhd')];
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'deltachain-direct-'));
    chain = await writeChain(dir);
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  it('reads the same blocks as the page cache gives, and leaves them out of it', async () => {
    for (const f of files()) evict(f);
    const reader = await ChainReader.open(chain.head, { directReads: true });
    try {
      assert.deepEqual(reader.disks.map((d) => d.readsDirect), [true, true], 'this file system offers O_DIRECT');
      const target = Buffer.alloc(BLOCK);
      const got = await readAll(reader, () => target);
      got.forEach((block, i) => assert.ok(block.equals(chain.expected[i]!), `block ${i}`));
      const room = alignedBuffer(bitmapSize(BLOCK) + BLOCK);
      for (let i = 0; i < reader.blockCount; i++) assert.ok((await reader.readBlockInPlace(i, room)).equals(chain.expected[i]!), `block ${i} read in place`);
    } finally {
      await reader.close();
    }
    // Opening read the footers, headers and BATs through the cache: a few pages, no block.
    for (const f of files()) assert.ok(resident(f) < 64 * 1024, `${f}: ${resident(f)} bytes in the page cache after direct reads`);

    const cached = await ChainReader.open(chain.head);
    try {
      const got = await readAll(cached, () => Buffer.alloc(BLOCK));
      got.forEach((block, i) => assert.ok(block.equals(chain.expected[i]!), `block ${i}, through the cache`));
    } finally {
      await cached.close();
    }
    assert.ok(resident(join(dir, 'base.vhd')) >= BLOCKS * BLOCK / 2, 'the reads through the cache filled it (the measure works)');
  });

  it('reads a partly marked block in one read, its unmarked sectors zeroed unless asked not to', async () => {
    // A block stored whole whose bitmap marks 16 runs of its first half.
    const path = join(dir, 'runs.vhd');
    const writer = await VhdWriter.create({ path, diskType: DiskType.Dynamic, currentSize: BLOCK, uuid: uuid(3), blockSize: BLOCK });
    const bitmap = Buffer.alloc(bitmapSize(BLOCK));
    for (let run = 0; run < 16; run++) bitmap.fill(0xff, run * 16, run * 16 + 8);
    await writer.writeBlock(0, data(1, 0), bitmap);
    await writer.finish();
    evict(path);
    const file = await VhdFile.open(path, { directReads: true });
    try {
      const room = alignedBuffer(bitmapSize(BLOCK) + BLOCK);
      const reads = await readsDuring(async () => {
        const block = (await file.readMarked(0, room))!;
        const expected = data(1, 0);
        for (let run = 0; run < 16; run++) {
          const marked = run * 16 * 8 * 512;
          const end = marked + 8 * 8 * 512;
          assert.ok(block.data.subarray(marked, end).equals(expected.subarray(marked, end)), `marked run ${run}`);
          assert.ok(block.data.subarray(end, end + 8 * 8 * 512).every((b) => b === 0), `the unmarked sectors after run ${run} read as zeros`);
        }
        assert.ok(block.data.subarray(BLOCK / 2).every((b) => b === 0));
      });
      assert.ok(reads <= 2, `${reads} reads for one partly marked block (a read per run would be 17)`);
      const kept = (await file.readMarked(0, room, { zeroUnmarked: false }))!;
      assert.ok(kept.data.subarray(8 * 8 * 512, 16 * 8 * 512).equals(data(1, 0).subarray(8 * 8 * 512, 16 * 8 * 512)), 'zeroUnmarked: false leaves the stored bytes');
    } finally {
      await file.close();
    }
  });

  it('reads a caller-owned buffer through the page cache, with the same bytes', async () => {
    for (const f of files()) evict(f);
    const file = await VhdFile.open(join(dir, 'base.vhd'), { directReads: true });
    try {
      const own = Buffer.alloc(bitmapSize(BLOCK) + BLOCK);
      assert.equal(canReadDirect(own, 0), false);
      const block = await file.readBlock(3, own);
      assert.ok(block!.data.equals(chain.expected[3]!));
      assert.ok(resident(file.path) >= BLOCK, 'the unaligned buffer was filled through the cache');
      const aligned = alignedBuffer(bitmapSize(BLOCK) + BLOCK);
      assert.equal(canReadDirect(aligned, 512), true);
      assert.equal(canReadDirect(aligned.subarray(16), 512), false, 'a view off the sector boundary');
      assert.ok((await file.readBlock(3, aligned))!.data.equals(chain.expected[3]!));
    } finally {
      await file.close();
    }
  });

  it('falls back to the page cache on a device of 4 KiB sectors, which refuses sector-aligned direct reads', async (t) => {
    if (process.getuid?.() !== 0) return t.skip('needs root to attach a loop device');
    const image = join(dir, '4k.img');
    const mount = join(dir, '4k');
    execFileSync('truncate', ['-s', '64M', image]);
    const device = execFileSync('losetup', ['--find', '--show', '--sector-size', '4096', image], { encoding: 'utf8' }).trim();
    try {
      execFileSync('mkfs.ext4', ['-q', device]);
      await mkdir(mount);
      execFileSync('mount', [device, mount]);
      try {
        const on4k = await writeChain(mount);
        const reader = await ChainReader.open(on4k.head, { directReads: true });
        try {
          assert.deepEqual(reader.disks.map((d) => d.readsDirect), [true, true], 'ext4 offers O_DIRECT at open');
          const got = await readAll(reader, () => Buffer.alloc(BLOCK));
          got.forEach((block, i) => assert.ok(block.equals(on4k.expected[i]!), `block ${i}`));
          assert.deepEqual(reader.disks.map((d) => d.readsDirect), [false, false], 'the refused reads turned direct reads off');
        } finally {
          await reader.close();
        }
      } finally {
        execFileSync('umount', [mount]);
      }
    } finally {
      execFileSync('losetup', ['--detach', device]);
    }
  });

  it('in a process whose address space is limited (ulimit -v), where V8 cannot reserve a WebAssembly memory, reads through the page cache with the same bytes', async () => {
    // tsx cannot start under the limit (it loads WebAssembly itself): the reading is bundled first.
    const entry = join(dir, 'limited-entry.ts');
    const bundle = join(dir, 'limited.mjs');
    await writeFile(
      entry,
      `import { ChainReader } from ${JSON.stringify(join(import.meta.dirname, 'chain-reader.ts'))};
      import { bitmapSize } from ${JSON.stringify(join(import.meta.dirname, 'format/index.ts'))};
      import { alignedBuffer, canReadDirect } from ${JSON.stringify(join(import.meta.dirname, 'direct-io.ts'))};
      const reader = await ChainReader.open(process.argv[2], { directReads: true });
      const room = alignedBuffer(bitmapSize(reader.blockSize) + reader.blockSize);
      const blocks = [];
      for (let i = 0; i < reader.blockCount; i++) blocks.push((await reader.readBlockInPlace(i, room)).toString('base64'));
      await reader.close();
      console.log(JSON.stringify({ aligned: canReadDirect(room, 0), blocks }));`,
    );
    await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', outfile: bundle, logLevel: 'error' });
    const out = execFileSync('bash', ['-c', 'ulimit -v 4000000 && exec "$0" "$@"', process.execPath, bundle, chain.head], { encoding: 'utf8', maxBuffer: 64 * MiB });
    const { aligned, blocks } = JSON.parse(out) as { aligned: boolean; blocks: string[] };
    assert.equal(aligned, false, 'no WebAssembly memory under the limit: an ordinary buffer');
    blocks.forEach((b, i) => assert.ok(Buffer.from(b, 'base64').equals(chain.expected[i]!), `block ${i}`));
  });

  it('is for read-only files', async () => {
    await assert.rejects(VhdFile.open(join(dir, 'base.vhd'), { writable: true, directReads: true }), /read-only/);
  });
});

describe('AlignedBufferPool', () => {
  it('takes back what it made and hands the same memory out again, aligned, keeping at most maxIdle', () => {
    const pool = new AlignedBufferPool(2);
    const [a, b, c] = [pool.take(BLOCK + 1024), pool.take(BLOCK + 1024), pool.take(BLOCK + 1024)];
    assert.ok([a, b, c].every((x) => canReadDirect(x, 0) && x.length === BLOCK + 1024));
    pool.give(a);
    pool.give(a); // twice: kept once
    pool.give(b);
    pool.give(c); // over maxIdle: left to the collector
    pool.give(alignedBuffer(BLOCK)); // not made by the pool
    assert.equal(pool.idle, 2);
    const again = pool.take(BLOCK + 512);
    assert.equal(again.buffer, a.buffer, 'the memory of the first buffer given back');
    assert.equal(again.length, BLOCK + 512, 'a view of the size asked for');
    assert.ok(canReadDirect(again, 0));
    assert.equal(pool.take(BLOCK).buffer, b.buffer);
    assert.notEqual(pool.take(BLOCK).buffer, c.buffer, 'c was not kept');
    assert.throws(() => new AlignedBufferPool(-1), /maxIdle/);
  });

  it("gives a chain reader's layer buffers back at close, and the next reader reads through the same memory", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'deltachain-pool-'));
    try {
      const chain = await writeChain(dir);
      const pool = new AlignedBufferPool(8);
      const memories = new Set<ArrayBufferLike>();
      const counting = { take: (size: number) => { const b = pool.take(size); memories.add(b.buffer); return b; }, give: (b: Buffer) => pool.give(b) };
      for (const round of [1, 2]) {
        const reader = await ChainReader.open(chain.head, { directReads: true, layerBuffers: 2, bufferPool: counting });
        try {
          // Blocks the child marks in part are folded through layer buffers, two at once.
          const got = await Promise.all(Array.from({ length: BLOCKS }, (_, i) => reader.readBlock(i, Buffer.alloc(BLOCK)).then((d) => Buffer.from(d))));
          got.forEach((block, i) => assert.ok(block.equals(chain.expected[i]!), `round ${round}, block ${i}`));
        } finally {
          await reader.close();
        }
        assert.equal(pool.idle, 2, `round ${round}: both layer buffers given back`);
        assert.equal(memories.size, 2, `round ${round}: no memory made but the first round's two`);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
