// VhdWriter + VhdFile round trips, checked against qemu-img (dynamic) and libvhdi (chains).
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import {
  DiskType,
  PlatformCode,
  VhdFile,
  VhdWriter,
  decodeFooter,
  fullBitmap,
} from './index.js';
import { WRITEBACK_BYTES, nonZeroRuns } from './vhd-writer.js';

const MiB = 1024 * 1024;
const BASE_UUID = '11111111-2222-4333-8444-555555555555';
const CHILD_UUID = '66666666-7777-4888-9999-aaaaaaaaaaaa';

function pattern(seed: number, size = 2 * MiB): Buffer {
  const buf = Buffer.alloc(size);
  for (let i = 0; i < size; i += 4) buf.writeUInt32LE((seed * 2654435761 + i) >>> 0, i);
  return buf;
}

describe('VhdWriter and VhdFile', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'deltachain-vhd-writer-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes a dynamic VHD that reads back, and qemu-img reads the same bytes', async () => {
    const path = join(dir, 'base.vhd');
    const size = 16 * MiB + 512 * 3; // not a multiple of the block size: 9 blocks
    const writer = await VhdWriter.create({ path, diskType: DiskType.Dynamic, currentSize: size, uuid: BASE_UUID });
    assert.match(writer.tempPath, /\/\.base\.vhd\.[0-9a-f]{8}\.tmp$/);
    await writer.writeBlock(7, pattern(7));
    await writer.writeBlock(0, pattern(0));
    await writer.writeBlock(8, pattern(8));
    const result = await writer.finish();
    assert.equal(result.path, path);
    assert.equal(result.blocks, 3);
    assert.equal(result.size, (await stat(path)).size);
    assert.deepEqual(await readdir(dir), ['base.vhd']);

    const file = await VhdFile.open(path);
    try {
      assert.equal(file.footer.diskType, DiskType.Dynamic);
      assert.equal(file.footer.uuid, BASE_UUID);
      assert.equal(file.currentSize, size);
      assert.equal(file.blockCount, 9);
      assert.equal(file.trailingFooterProblem, undefined);
      assert.deepEqual(file.allocatedBlocks(), [0, 7, 8]);
      assert.equal(file.hasBlock(1), false);
      assert.equal(await file.readBlock(1), undefined);
      for (const i of [0, 7, 8]) {
        const block = await file.readBlock(i);
        assert.ok(block);
        assert.ok(block.data.equals(pattern(i)), `block ${i} data`);
        assert.ok(block.bitmap.equals(fullBitmap(512)));
      }
    } finally {
      await file.close();
    }

    const raw = join(dir, 'base.raw');
    const info = JSON.parse(execFileSync('qemu-img', ['info', '--output=json', path]).toString());
    assert.equal(info.format, 'vpc');
    execFileSync('qemu-img', [
      'convert', '--image-opts', `driver=vpc,force_size_calc=current_size,file.filename=${path}`, '-O', 'raw', raw,
    ]);
    const bytes = await readFile(raw);
    assert.equal(bytes.length, size);
    assert.ok(bytes.subarray(0, 2 * MiB).equals(pattern(0)));
    assert.ok(bytes.subarray(2 * MiB, 14 * MiB).equals(Buffer.alloc(12 * MiB)));
    assert.ok(bytes.subarray(14 * MiB, 16 * MiB).equals(pattern(7)));
    assert.ok(bytes.subarray(16 * MiB).equals(pattern(8).subarray(0, 1536)));
    await rm(raw);
  });

  it('starts writeback while blocks arrive, and the disk still reads back whole through qemu-img', async () => {
    const path = join(dir, 'writeback.vhd');
    const blocks = 20;
    const writer = await VhdWriter.create({ path, diskType: DiskType.Dynamic, currentSize: blocks * 2 * MiB, uuid: BASE_UUID, writebackBytes: 8 * MiB });
    assert.equal(WRITEBACK_BYTES, 64 * MiB); // the default, far below the page cache's own threshold (10 % of RAM)
    const writes: Promise<void>[] = [];
    for (let i = 0; i < blocks; i++) {
      writes.push(writer.writeBlock(i, pattern(i)));
      if (writes.length === 4) await writes.shift(); // a few in flight, as an upload writes them
    }
    await Promise.all(writes);
    const deadline = Date.now() + 5000;
    while (writer.writebacks === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.ok(writer.writebacks >= 1, 'no fdatasync finished while the blocks were written');
    await writer.finish();
    const raw = join(dir, 'writeback.raw');
    execFileSync('qemu-img', ['convert', '--image-opts', `driver=vpc,force_size_calc=current_size,file.filename=${path}`, '-O', 'raw', raw]);
    const bytes = await readFile(raw);
    for (let i = 0; i < blocks; i++) assert.ok(bytes.subarray(i * 2 * MiB, (i + 1) * 2 * MiB).equals(pattern(i)), `block ${i}`);
    await rm(raw);
    await rm(path);
  });

  it('leaves all-zero pages of a block as holes: same bytes read back, less space on disk', async () => {
    const path = join(dir, 'sparse.vhd');
    const writer = await VhdWriter.create({ path, diskType: DiskType.Dynamic, currentSize: 8 * MiB, uuid: BASE_UUID });
    const mixed = pattern(3);
    mixed.fill(0, 0, 64 * 1024); // a zero run at the start
    mixed.fill(0, MiB, MiB + 256 * 1024); // and in the middle
    mixed.fill(0, 2 * MiB - 4096); // and the last page
    mixed[MiB + 100 * 1024] = 1; // one non-zero byte inside the middle run
    const zeros = Buffer.alloc(2 * MiB);
    await writer.writeBlock(0, mixed);
    await writer.writeBlock(1, zeros);
    await writer.writeBlock(3, pattern(4));
    await writer.finish();
    const st = await stat(path);
    // Allocated: about two blocks of data (2 MiB of zeros in block 1 and ~380 KiB in block 0 are holes).
    assert.ok(st.blocks * 512 < st.size - 2 * MiB, `${st.blocks * 512} bytes allocated of ${st.size}`);
    const file = await VhdFile.open(path);
    try {
      assert.deepEqual(file.allocatedBlocks(), [0, 1, 3]);
      assert.ok((await file.readBlock(0))!.data.equals(mixed));
      assert.ok((await file.readBlock(1))!.data.equals(zeros));
      assert.ok((await file.readBlock(1))!.bitmap.equals(fullBitmap(512)));
      assert.ok((await file.readBlock(3))!.data.equals(pattern(4)));
    } finally {
      await file.close();
    }
    const raw = join(dir, 'sparse.raw');
    execFileSync('qemu-img', ['convert', '--image-opts', `driver=vpc,force_size_calc=current_size,file.filename=${path}`, '-O', 'raw', raw]);
    const bytes = await readFile(raw);
    assert.ok(bytes.subarray(0, 2 * MiB).equals(mixed));
    assert.ok(bytes.subarray(2 * MiB, 6 * MiB).equals(Buffer.alloc(4 * MiB)));
    assert.ok(bytes.subarray(6 * MiB).equals(pattern(4)));
    await rm(raw);
  });

  it('writes a packed block run by run: the same block as the expanded one, unmarked sectors and zero pages left as holes', async () => {
    const packedPath = join(dir, 'packed.vhd');
    const expandedPath = join(dir, 'expanded.vhd');
    const whole = pattern(5);
    whole.fill(0, 3 * 64 * 1024, 3 * 64 * 1024 + 8192); // zero pages inside a marked run
    const bitmap = Buffer.alloc(512);
    bitmap.fill(0xff, 0, 16); // piece 0
    bitmap.fill(0xff, 48, 64); // piece 3
    bitmap[100] = 0x81; // two lone sectors
    const expanded = Buffer.alloc(2 * MiB);
    const runs: Buffer[] = [];
    for (let sector = 0; sector < 4096; sector++) {
      if (((bitmap[sector >> 3]! >> (7 - (sector & 7))) & 1) === 0) continue;
      const bytes = whole.subarray(sector * 512, (sector + 1) * 512);
      runs.push(bytes);
      bytes.copy(expanded, sector * 512);
    }
    const packed = Buffer.concat(runs);
    for (const [path, write] of [
      [packedPath, (w: VhdWriter) => w.writePackedBlock(1, bitmap, packed)],
      [expandedPath, (w: VhdWriter) => w.writeBlock(1, expanded, bitmap)],
    ] as const) {
      // One footer date for both files: "now" may fall on either side of a second boundary.
      const date = new Date('2026-01-01T00:00:00Z');
      const writer = await VhdWriter.create({ path, diskType: DiskType.Dynamic, currentSize: 4 * MiB, uuid: BASE_UUID, date });
      await write(writer);
      await writer.finish();
    }
    assert.ok((await readFile(packedPath)).equals(await readFile(expandedPath)), 'byte for byte the file the expanded block gives');
    const allocated = (await stat(packedPath)).blocks * 512;
    assert.ok(allocated < 256 * 1024, `${allocated} bytes allocated for ${packed.length} marked bytes`);
    const file = await VhdFile.open(packedPath);
    try {
      const block = (await file.readBlock(1))!;
      assert.ok(block.bitmap.equals(bitmap));
      assert.ok(block.data.equals(expanded));
    } finally {
      await file.close();
    }
  });

  it('nonZeroRuns finds the pages holding data', () => {
    const data = Buffer.alloc(5 * 4096 + 100);
    data[4096 + 7] = 1;
    data[3 * 4096] = 2;
    data[4 * 4096 + 1] = 3;
    data[5 * 4096 + 99] = 4;
    assert.deepEqual(nonZeroRuns(data), [[4096, 2 * 4096], [3 * 4096, 5 * 4096 + 100]]);
    assert.deepEqual(nonZeroRuns(Buffer.alloc(8192)), []);
  });

  it('writes a differencing VHD with parent uuid, name and locators; libvhdi reads the chain', async () => {
    const basePath = join(dir, 'base.vhd');
    const path = join(dir, 'child.vhd');
    const base = await VhdFile.open(basePath);
    const parentTimestamp = base.footer.timestamp;
    await base.close();
    const size = 16 * MiB + 512 * 3;
    const writer = await VhdWriter.create({
      path,
      diskType: DiskType.Differencing,
      currentSize: size,
      uuid: CHILD_UUID,
      parent: { uuid: BASE_UUID, timestamp: parentTimestamp, relativeName: './base.vhd' },
      date: new Date('2024-05-01T00:00:00Z'),
    });
    // Block 0: only the first 4 KiB page marked (the rest reads from the parent).
    const bitmap = Buffer.alloc(512);
    bitmap[0] = 0xff;
    await writer.writeBlock(0, pattern(100), bitmap);
    await writer.writeBlock(3, pattern(103));
    await writer.finish();

    const file = await VhdFile.open(path);
    try {
      assert.equal(file.footer.diskType, DiskType.Differencing);
      assert.equal(file.footer.uuid, CHILD_UUID);
      assert.equal(file.header.parentUuid, BASE_UUID);
      assert.equal(file.header.parentTimestamp, parentTimestamp);
      assert.equal(file.header.parentUnicodeName, './base.vhd');
      const [w2ru, w2ku] = file.header.parentLocators;
      assert.equal(w2ru!.platformCode, PlatformCode.W2ru);
      assert.equal(w2ku!.platformCode, PlatformCode.W2ku);
      const rel = Buffer.alloc(w2ru!.platformDataLength);
      await file.handle.read(rel, 0, rel.length, w2ru!.platformDataOffset);
      assert.equal(rel.toString('utf16le'), './base.vhd');
      const abs = Buffer.alloc(w2ku!.platformDataLength);
      await file.handle.read(abs, 0, abs.length, w2ku!.platformDataOffset);
      assert.equal(abs.toString('utf16le'), basePath);
      assert.deepEqual(file.allocatedBlocks(), [0, 3]);
      const block0 = await file.readBlock(0);
      assert.ok(block0!.bitmap.equals(bitmap));
    } finally {
      await file.close();
    }

    const script = [
      'import pyvhdi, sys',
      'p = pyvhdi.file(); p.open(sys.argv[1])',
      'c = pyvhdi.file(); c.open(sys.argv[2]); c.set_parent(p)',
      'sys.stdout.buffer.write(c.read_buffer_at_offset(8 * 1024 * 1024, 0))',
    ].join('\n');
    const out = execFileSync('/usr/bin/python3', ['-c', script, basePath, path], { maxBuffer: 32 * MiB });
    const expected = Buffer.concat([pattern(100).subarray(0, 4096), pattern(0).subarray(4096), Buffer.alloc(4 * MiB), pattern(103)]);
    assert.ok(out.equals(expected), 'libvhdi reads the chain as written');
  });

  it('rejects a bad block, a block written twice and bad options, and abort leaves nothing', async () => {
    const path = join(dir, 'bad.vhd');
    await assert.rejects(
      VhdWriter.create({ path, diskType: DiskType.Dynamic, currentSize: MiB, uuid: BASE_UUID, blockSize: 3 * MiB }),
      /block size 3145728 is not a power of two/,
    );
    await assert.rejects(
      VhdWriter.create({ path, diskType: DiskType.Differencing, currentSize: MiB, uuid: BASE_UUID }),
      /needs a parent/,
    );
    const writer = await VhdWriter.create({ path, diskType: DiskType.Dynamic, currentSize: 4 * MiB, uuid: BASE_UUID });
    await assert.rejects(writer.writeBlock(2, pattern(1)), /block 2 is outside 0..1/);
    await assert.rejects(writer.writeBlock(0, Buffer.alloc(100)), /100 data bytes, expected 2097152/);
    await writer.writeBlock(0, pattern(1));
    await assert.rejects(writer.writeBlock(0, pattern(1)), /already written/);
    await writer.abort();
    await writer.abort();
    assert.deepEqual((await readdir(dir)).filter((n) => n.includes('bad')), []);
  });

  it('reads a file whose trailing footer was lost, and reports it', async () => {
    const path = join(dir, 'base.vhd');
    const { truncate } = await import('node:fs/promises');
    const copy = join(dir, 'torn.vhd');
    await (await import('node:fs/promises')).copyFile(path, copy);
    const size = (await stat(copy)).size;
    await truncate(copy, size - 512);
    const file = await VhdFile.open(copy);
    try {
      assert.match(file.trailingFooterProblem ?? '', /trailing footer/);
      assert.ok((await file.readBlock(8))!.data.equals(pattern(8)));
      assert.equal(decodeFooter(await readFile(copy)).uuid, BASE_UUID);
    } finally {
      await file.close();
      await rm(copy);
    }
  });

  it('a writer killed mid-way leaves only its temporary, never the final name', { timeout: 120_000 }, async () => {
    const path = join(dir, 'killed.vhd');
    const script = fileURLToPath(new URL('./testing/slow-writer.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', script, path], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = once(child, 'exit');
    let line: Buffer;
    try {
      // A child that dies before printing must fail the test, not leave it waiting for output.
      line = await Promise.race([
        once(child.stdout!, 'data').then(([chunk]) => chunk as Buffer),
        exited.then(([code, signal]) => {
          throw new Error(`slow-writer exited (${String(code ?? signal)}) before printing its temporary path`);
        }),
      ]);
    } finally {
      child.kill('SIGKILL');
    }
    await exited;
    const tempPath = line.toString().trim();
    assert.match(tempPath, /\/\.killed\.vhd\.[0-9a-f]{8}\.tmp$/);
    await assert.rejects(stat(path), { code: 'ENOENT' });
    assert.ok((await stat(tempPath)).size > 0);
    await rm(tempPath);
  });

  it('a failed rename removes the temporary and leaves the target alone', async () => {
    const path = join(dir, 'occupied.vhd');
    await mkdir(join(path, 'inside'), { recursive: true });
    const writer = await VhdWriter.create({ path, diskType: DiskType.Dynamic, currentSize: 2 * MiB, uuid: BASE_UUID });
    await writer.writeBlock(0, pattern(1));
    await assert.rejects(writer.finish(), { code: /EISDIR|ENOTEMPTY|EEXIST/ });
    await assert.rejects(stat(writer.tempPath), { code: 'ENOENT' });
    assert.ok((await stat(join(path, 'inside'))).isDirectory());
    await rm(path, { recursive: true });
  });

  it('concurrent writeBlock calls land before finish writes the metadata', async () => {
    const path = join(dir, 'concurrent.vhd');
    const writer = await VhdWriter.create({ path, diskType: DiskType.Dynamic, currentSize: 16 * MiB, uuid: BASE_UUID });
    const writes = [5, 1, 7, 0, 3].map((i) => writer.writeBlock(i, pattern(i)));
    const finished = writer.finish();
    await Promise.all(writes);
    assert.equal((await finished).blocks, 5);
    const file = await VhdFile.open(path);
    try {
      for (const i of [5, 1, 7, 0, 3]) assert.ok((await file.readBlock(i))!.data.equals(pattern(i)), `block ${i}`);
      assert.equal(file.trailingFooterProblem, undefined);
    } finally {
      await file.close();
      await rm(path);
    }
  });
});
