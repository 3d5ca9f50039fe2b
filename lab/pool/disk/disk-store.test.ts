import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeBlockMap, encodeBlockMap } from './block-map.js';
import { DiskStore } from './disk-store.js';
import type { DiskReader } from './disk-reader.js';

const MiB = 1024 * 1024;
const SR = '11111111-1111-4111-8111-111111111111';
const A = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
const B = 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb';
const C = 'cccccccc-cccc-4ccc-8ccc-cccccccccccc';

async function readAll(reader: DiskReader): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of reader.readRange(0, reader.virtualSize)) parts.push(chunk);
  reader.close();
  return Buffer.concat(parts);
}

function sha(buf: Buffer): string {
  return createHash('sha256').update(buf).digest('hex');
}

describe('DiskStore', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'lab-disk-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('reads zeros from a new disk and what was written after commit', async () => {
    const disks = await DiskStore.open(join(root, 'one'));
    await disks.create(SR, A, 5 * MiB + 512);
    assert.deepEqual(await readAll(disks.openReader(A)), Buffer.alloc(5 * MiB + 512));
    const writer = await disks.openWriter(A);
    const data = randomBytes(3 * MiB);
    await writer.writeAt(MiB, data);
    await writer.writeAt(5 * MiB, Buffer.alloc(512, 7));
    assert.equal(disks.stats(A).allocatedBlocks, 0, 'uncommitted writes are invisible');
    await writer.commit();
    const expected = Buffer.alloc(5 * MiB + 512);
    data.copy(expected, MiB);
    expected.fill(7, 5 * MiB);
    assert.equal(sha(await readAll(disks.openReader(A))), sha(expected));
    assert.deepEqual(disks.allocatedBlocks(A), [0, 1, 2]);
    await disks.close();
  });

  it('a writer past its background syncs (every 64 MiB) commits what it wrote, or on abort leaves the disk as it was', async () => {
    const disks = await DiskStore.open(join(root, 'writeback'));
    await disks.create(SR, A, 160 * MiB);
    const data = randomBytes(160 * MiB);
    let writer = await disks.openWriter(A);
    for (let at = 0; at < data.length; at += 8 * MiB) await writer.writeAt(at, data.subarray(at, at + 8 * MiB));
    writer.abort();
    assert.equal(sha(await readAll(disks.openReader(A))), sha(Buffer.alloc(160 * MiB)), 'aborted: nothing of the write is visible');
    writer = await disks.openWriter(A);
    for (let at = 0; at < data.length; at += 8 * MiB) await writer.writeAt(at, data.subarray(at, at + 8 * MiB));
    await writer.commit();
    assert.equal(sha(await readAll(disks.openReader(A))), sha(data));
    await disks.close();
    const reopened = await DiskStore.open(join(root, 'writeback'));
    assert.equal(sha(await readAll(reopened.openReader(A))), sha(data), 'the committed write is there after reopening');
    await reopened.close();
  });

  it('snapshots share blocks, writes copy on write, and deltas list changed blocks only', async () => {
    const disks = await DiskStore.open(join(root, 'cow'));
    await disks.create(SR, A, 16 * MiB);
    let writer = await disks.openWriter(A);
    await writer.writeAt(0, randomBytes(16 * MiB));
    await writer.commit();
    assert.equal(disks.usedSlots(SR), 8);
    await disks.clone(A, B);
    assert.equal(disks.usedSlots(SR), 8, 'a snapshot copies no data');
    const before = await readAll(disks.openReader(B));
    writer = await disks.openWriter(A);
    await writer.writeAt(2 * MiB + 4096, randomBytes(4096));
    await writer.writeAt(10 * MiB, randomBytes(2 * MiB));
    await writer.commit();
    assert.equal(disks.usedSlots(SR), 10);
    assert.equal(sha(await readAll(disks.openReader(B))), sha(before), 'the snapshot did not change');
    assert.deepEqual(disks.changedBlocks(B, A), [1, 5]);
    await disks.clone(A, C);
    assert.deepEqual(disks.changedBlocks(B, C), [1, 5]);
    assert.deepEqual(disks.changedBlocks(C, A), []);
    await disks.destroy(B);
    assert.equal(disks.usedSlots(SR), 8, 'blocks only the snapshot held are freed');
    await disks.close();
  });

  it('copies a disk to another SR with its bytes and generations, and survives a reopen', async () => {
    const SR2 = '22222222-2222-4222-8222-222222222222';
    const dir = join(root, 'copy');
    let disks = await DiskStore.open(dir);
    await disks.create(SR, A, 8 * MiB + 512);
    const writer = await disks.openWriter(A);
    await writer.writeAt(2 * MiB, randomBytes(3 * MiB));
    await writer.commit();
    const content = sha(await readAll(disks.openReader(A)));
    await disks.copyToSr(A, SR2, B);
    assert.equal(disks.usedSlots(SR2), 2, 'only allocated blocks are copied');
    assert.equal(sha(await readAll(disks.openReader(B))), content);
    assert.deepEqual(disks.changedBlocks(A, B), [], 'generations are kept');
    await disks.destroy(A);
    assert.equal(disks.usedSlots(SR), 0);
    await disks.close();
    disks = await DiskStore.open(dir);
    assert.equal(sha(await readAll(disks.openReader(B))), content);
    assert.equal(disks.usedSlots(SR2), 2);
    await disks.close();
  });

  it('a reader keeps its point in time across writes and destroy', async () => {
    const disks = await DiskStore.open(join(root, 'reader'));
    await disks.create(SR, A, 4 * MiB);
    let writer = await disks.openWriter(A);
    await writer.writeAt(0, Buffer.alloc(4 * MiB, 1));
    await writer.commit();
    const reader = disks.openReader(A);
    writer = await disks.openWriter(A);
    await writer.writeAt(0, Buffer.alloc(4 * MiB, 2));
    await writer.commit();
    await disks.destroy(A);
    assert.deepEqual(await readAll(reader), Buffer.alloc(4 * MiB, 1));
    assert.equal(disks.usedSlots(SR), 0);
    await disks.close();
  });

  it('survives a reopen; an uncommitted writer leaves nothing behind', async () => {
    const dir = join(root, 'reopen');
    let disks = await DiskStore.open(dir);
    await disks.create(SR, A, 8 * MiB);
    let writer = await disks.openWriter(A);
    await writer.writeAt(0, Buffer.alloc(8 * MiB, 3));
    await writer.commit();
    await disks.clone(A, B);
    writer = await disks.openWriter(A);
    await writer.writeAt(0, Buffer.alloc(2 * MiB, 4));
    // simulate a crash: the writer never commits; the process "dies" (store closed unflushed)
    await disks.close();
    disks = await DiskStore.open(dir);
    assert.deepEqual(await readAll(disks.openReader(A)), Buffer.alloc(8 * MiB, 3));
    assert.equal(disks.usedSlots(SR), 4, 'the crashed writer slot is free again');
    assert.deepEqual(disks.changedBlocks(B, A), []);
    writer = await disks.openWriter(A);
    await writer.writeAt(6 * MiB, Buffer.alloc(MiB, 5));
    await writer.commit();
    assert.deepEqual(disks.changedBlocks(B, A), [3], 'generations keep growing after a reopen');
    assert.deepEqual(await disks.removeOrphans(new Set([A])), [B]);
    assert.equal(disks.has(B), false);
    await disks.close();
  });

  it('aborted writes change nothing; writers on one disk take turns', async () => {
    const disks = await DiskStore.open(join(root, 'abort'));
    await disks.create(SR, A, 4 * MiB);
    const first = await disks.openWriter(A);
    await first.writeAt(0, Buffer.alloc(MiB, 9));
    let secondOpened = false;
    const second = disks.openWriter(A).then((w) => {
      secondOpened = true;
      return w;
    });
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(secondOpened, false);
    first.abort();
    const w2 = await second;
    await w2.writeAt(0, Buffer.alloc(512, 1));
    await w2.commit();
    const content = await readAll(disks.openReader(A));
    assert.equal(content[0], 1);
    assert.equal(content[512], 0);
    assert.equal(disks.usedSlots(SR), 1);
    await disks.close();
  });

  it('refuses writes outside the disk', async () => {
    const disks = await DiskStore.open(join(root, 'range'));
    await disks.create(SR, A, 2 * MiB);
    const writer = await disks.openWriter(A);
    await assert.rejects(writer.writeAt(2 * MiB - 10, Buffer.alloc(20)), /outside the disk/);
    writer.abort();
    assert.throws(() => disks.openReader(B), /has no disk/);
    await disks.close();
  });

  it('data_destroy keeps generations for CBT and frees the data', async () => {
    const disks = await DiskStore.open(join(root, 'cbt'));
    await disks.create(SR, A, 8 * MiB);
    let writer = await disks.openWriter(A);
    await writer.writeAt(0, Buffer.alloc(8 * MiB, 1));
    await writer.commit();
    await disks.clone(A, B);
    await disks.dataDestroy(B);
    assert.equal(disks.stats(B).hasData, false);
    writer = await disks.openWriter(A);
    await writer.writeAt(2 * MiB, Buffer.alloc(512, 2));
    await writer.commit();
    await disks.clone(A, C);
    const bitmap = disks.changedBlockBitmap(B, C);
    assert.equal(bitmap.length, 16);
    assert.deepEqual([...bitmap], [0, 0, 0, 0, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 'the one 64 KiB chunk written, not its 2 MiB block');
    assert.deepEqual(disks.changedBlocks(B, C), [1], 'a delta export still sends the whole block');
    await disks.close();
  });

  it('marks exactly the 64 KiB chunks written since the base, also across a reopen', async () => {
    const KiB = 1024;
    const folder = join(root, 'cbt-exact');
    let disks = await DiskStore.open(folder);
    await disks.create(SR, A, 6 * MiB);
    let writer = await disks.openWriter(A);
    await writer.writeAt(0, randomBytes(6 * MiB));
    await writer.commit();
    await disks.clone(A, B);
    writer = await disks.openWriter(A);
    await writer.writeAt(3 * 64 * KiB + 100, randomBytes(4 * KiB)); // chunk 3
    await writer.writeAt(5 * 64 * KiB - 512, randomBytes(1024)); // straddles chunks 4 and 5
    await writer.writeBlock(2, randomBytes(2 * MiB)); // chunks 64..95, the whole third block
    await writer.writeAt(2 * MiB - 4 * KiB, randomBytes(4 * KiB)); // chunk 31, last of the first block
    await writer.commit();
    await disks.clone(A, C);
    const marked = (bitmap: Buffer): number[] => {
      const chunks: number[] = [];
      for (let i = 0; i < bitmap.length * 8; i++) if (bitmap[i >> 3]! & (0x80 >> (i & 7))) chunks.push(i);
      return chunks;
    };
    const expected = [3, 4, 5, 31, ...Array.from({ length: 32 }, (_, i) => 64 + i)];
    assert.deepEqual(marked(disks.changedBlockBitmap(B, C)), expected);
    assert.deepEqual(marked(disks.changedBlockBitmap(C, C)), []);
    await disks.close();
    disks = await DiskStore.open(folder);
    assert.deepEqual(marked(disks.changedBlockBitmap(B, C)), expected, 'the same after a reopen');
    writer = await disks.openWriter(C);
    await writer.writeAt(10, Buffer.alloc(10, 7));
    await writer.commit();
    assert.deepEqual(marked(disks.changedBlockBitmap(B, C)), [0, ...expected], 'generations keep growing after a reopen');
    await disks.close();
  });

  it('reads a version 1 map (no chunk generations) as every chunk written with its block', () => {
    const v1 = Buffer.alloc(24 + 2 * 8);
    v1.write('DCLABMAP', 0, 'latin1');
    v1.writeUInt32BE(1, 8);
    v1.writeUInt32BE(2, 12);
    v1.writeBigUInt64BE(BigInt(4 * MiB), 16);
    v1.writeUInt32BE(7, 24); // block 0: slot 7, generation 5
    v1.writeUInt32BE(5, 28);
    v1.writeUInt32BE(0xffffffff, 32); // block 1: never written
    v1.writeUInt32BE(0, 36);
    const map = decodeBlockMap(v1, 'v1.map', 2 * MiB);
    assert.equal(map.chunksPerBlock, 32);
    assert.deepEqual([...map.chunkGenerations], [...Array(32).fill(5), ...Array(32).fill(0)]);
    assert.deepEqual(decodeBlockMap(encodeBlockMap(map), 'v2.map', 2 * MiB), map, 'written back as version 2');
    assert.throws(() => decodeBlockMap(v1.subarray(0, 30), 'short.map', 2 * MiB), /30 bytes, expected 40/);
  });
});
