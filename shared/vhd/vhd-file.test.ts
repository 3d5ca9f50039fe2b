// VhdFile on damaged files: each is refused at open with a VhdFormatError naming the file and the
// structure, and nothing is written to it.
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DiskType, VhdFile, VhdFormatError, VhdWriter, encodeFooter, newFooter } from './index.js';

const BS = 64 * 1024;
const UUID = '22222222-3333-4444-8555-666666666666';
// Our layout: footer 0, header 512, BAT 1536 (512 bytes for 4 entries), blocks from 2048.
const BAT = 1536;

async function patched(source: string, target: string, patch: (bytes: Buffer) => void): Promise<string> {
  const bytes = await readFile(source);
  patch(bytes);
  await writeFile(target, bytes);
  return target;
}

describe('VhdFile refuses damaged files', () => {
  let dir: string;
  let good: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'deltachain-vhd-file-'));
    good = join(dir, 'good.vhd');
    const writer = await VhdWriter.create({ path: good, diskType: DiskType.Dynamic, currentSize: 4 * BS, uuid: UUID, blockSize: BS });
    await writer.writeBlock(1, Buffer.alloc(BS, 1));
    await writer.writeBlock(2, Buffer.alloc(BS, 2));
    await writer.finish();
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function refused(path: string, pattern: RegExp): Promise<void> {
    const before = await readFile(path);
    await assert.rejects(VhdFile.open(path), (e: unknown) => {
      assert.ok(e instanceof VhdFormatError, String(e));
      assert.ok(e.message.startsWith(path), e.message);
      assert.match(e.message, pattern);
      return true;
    });
    assert.ok((await readFile(path)).equals(before), 'the file is unchanged');
  }

  it('opens the good file', async () => {
    const file = await VhdFile.open(good);
    assert.deepEqual(file.allocatedBlocks(), [1, 2]);
    assert.equal(file.blockOffset(1), 2048);
    await file.close();
  });

  it('BAT entries past the end, overlapping each other or the metadata', async () => {
    const entry = (i: number, sector: number) => (b: Buffer) => b.writeUInt32BE(sector, BAT + i * 4);
    const cases: [(b: Buffer) => void, RegExp][] = [
      [entry(3, 100000), /BAT entry 3: block at bytes 51200000\.\.\d+ runs past the end of the file/],
      [entry(2, 5), /BAT entry (1|2): block at .* overlaps block (1|2)/],
      [entry(0, 1), /BAT entry 0: .*overlaps the dynamic header/],
      [entry(0, 3), /BAT entry 0: .*overlaps the BAT/],
      [entry(0, 0), /BAT entry 0: .*overlaps the footer copy/],
    ];
    for (const [k, [patch, pattern]] of cases.entries()) await refused(await patched(good, join(dir, `bat${k}.vhd`), patch), pattern);
  });

  it('a bad footer copy, a bad header, a short file, a fixed disk', async () => {
    await refused(await patched(good, join(dir, 'f.vhd'), (b) => { b[70]! ^= 1; }), /footer at offset 0: bad checksum/);
    await refused(await patched(good, join(dir, 'h.vhd'), (b) => { b[512 + 40]! ^= 1; }), /dynamic header at offset 512: bad checksum/);
    const short = join(dir, 'short.vhd');
    await copyFile(good, short);
    await truncate(short, 1000);
    await refused(short, /1000 bytes is too small/);
    const cut = join(dir, 'cut.vhd');
    await copyFile(good, cut);
    await truncate(cut, 2048 + 2 * (512 + BS) - 1);
    await refused(cut, /BAT entry 2: block at bytes \d+\.\.\d+ runs past the end of the file/);
    const fixed = join(dir, 'fixed.vhd');
    await writeFile(fixed, Buffer.concat([Buffer.alloc(4 * BS), encodeFooter(newFooter({ diskType: DiskType.Fixed, currentSize: 4 * BS, uuid: UUID }))]));
    await refused(fixed, /fixed VHDs are not supported/);
  });
});

describe('VhdFile.readMarked', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'deltachain-vhd-marked-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('returns the marked sectors as stored and zeros for the unmarked ones, whatever the file holds there', async () => {
    const path = join(dir, 'partial.vhd');
    const writer = await VhdWriter.create({ path, diskType: DiskType.Dynamic, currentSize: 4 * BS, uuid: UUID, blockSize: BS });
    const data = Buffer.alloc(BS);
    for (let i = 0; i < BS; i++) data[i] = (i * 7 + 3) & 0xff || 1;
    // 128 sectors: marks sectors 0..7, 20 and 100..127 (an earlier writer left bytes in the others).
    const bitmap = Buffer.alloc(512);
    bitmap[0] = 0xff;
    bitmap[2] = 0x08;
    bitmap[12] = 0x0f;
    bitmap.fill(0xff, 13, 16);
    await writer.writeBlock(1, data, bitmap);
    await writer.writeBlock(2, data);
    await writer.writeBlock(3, data, Buffer.alloc(512).fill(0xaa, 0, 16));
    await writer.finish();
    const file = await VhdFile.open(path);
    try {
      const raw = (await file.readBlock(1))!;
      assert.ok(raw.data.equals(data), 'readBlock gives the stored bytes');
      const marked = (await file.readMarked(1))!;
      assert.ok(marked.bitmap.equals(bitmap));
      const want = Buffer.alloc(BS);
      for (const [first, end] of [[0, 8], [20, 21], [100, 128]] as const) data.copy(want, first * 512, first * 512, end * 512);
      assert.ok(marked.data.equals(want), 'marked sectors as stored, zeros elsewhere');
      assert.ok((await file.readMarked(2))!.data.equals(data), 'a fully marked block is read whole');
      const many = (await file.readMarked(3))!;
      const alternate = Buffer.alloc(BS);
      for (let sector = 0; sector < 128; sector += 2) data.copy(alternate, sector * 512, sector * 512, (sector + 1) * 512);
      assert.ok(many.data.equals(alternate), '64 runs (read whole, gaps zeroed): marked sectors as stored, zeros elsewhere');
      assert.equal(await file.readMarked(0), undefined);
      const into = Buffer.alloc(512 + BS + 1, 0x5a);
      for (const [index, expected] of [[1, want], [2, data], [3, alternate]] as const) {
        into.fill(0x5a);
        const block = (await file.readMarked(index, into))!;
        assert.equal(block.data.buffer, into.buffer, `block ${index} is read into the buffer given`);
        assert.ok(block.data.equals(expected), `block ${index} read into a used buffer: its old bytes do not show through`);
      }
      into.fill(0x5a);
      const kept = (await file.readMarked(1, into, { zeroUnmarked: false }))!;
      const over = Buffer.alloc(BS, 0x5a);
      for (const [first, end] of [[0, 8], [20, 21], [100, 128]] as const) data.copy(over, first * 512, first * 512, end * 512);
      assert.ok(kept.data.equals(over), 'zeroUnmarked false: the marked sectors as stored, the buffer untouched elsewhere');
      await assert.rejects(file.readMarked(1, Buffer.alloc(BS)), RangeError);
      const whole = (await file.readBlock(1, into))!;
      assert.ok(whole.data.equals(data) && whole.bitmap.equals(bitmap), 'readBlock into a larger buffer: exactly the stored block');
    } finally {
      await file.close();
    }
  });
});
