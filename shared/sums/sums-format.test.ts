import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DiskDigest } from '../grpc/disk-checksum.js';
import { SumsCursor, SumsFormatError, SumsReader, decodeSums, encodeSums, type SumsEntry } from './index.js';

const sum = (n: number): Buffer => createHash('sha256').update(String(n)).digest();
const entry = (index: number, fullBitmap: boolean | undefined): SumsEntry => ({ index, checksum: sum(index), fullBitmap });

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/** A version 1 file, as storage agents wrote them before version 2 (docs/remote-format.md §6). */
function encodeV1(blockSize: number, indexes: number[]): Buffer {
  const out = Buffer.alloc(32 + indexes.length * 36 + 32);
  out.write('DCSUMS\r\n', 0, 'latin1');
  out.writeUInt32BE(1, 8);
  out.writeUInt32BE(blockSize, 12);
  out.writeUInt32BE(indexes.length, 16);
  indexes.forEach((index, k) => {
    out.writeUInt32BE(index, 32 + k * 36);
    sum(index).copy(out, 32 + k * 36 + 4);
  });
  createHash('sha256').update(out.subarray(0, out.length - 32)).digest().copy(out, out.length - 32);
  return out;
}

test('version 2: the documented byte layout, flags per entry, round trip', () => {
  const encoded = encodeSums(2 * 1024 * 1024, [entry(0, true), entry(7, false), entry(300, undefined)]);
  assert.equal(encoded.subarray(0, 8).toString('latin1'), 'DCSUMS\r\n');
  assert.equal(encoded.readUInt32BE(8), 2);
  assert.equal(encoded.readUInt32BE(12), 2 * 1024 * 1024);
  assert.equal(encoded.readUInt32BE(16), 3);
  assert.equal(encoded.length, 32 + 3 * 40 + 32);
  assert.deepEqual([0, 1, 2].map((i) => encoded.readUInt32BE(32 + i * 40)), [0, 7, 300]);
  assert.deepEqual([0, 1, 2].map((i) => encoded.readUInt32BE(32 + i * 40 + 36)), [1, 0, 2], 'flags: FULL, none, UNKNOWN');
  assert.ok(encoded.subarray(32 + 40 + 4, 32 + 40 + 36).equals(sum(7)));
  const decoded = decodeSums(encoded, 'x');
  assert.deepEqual(decoded.entries.map((e) => [e.index, e.fullBitmap]), [[0, true], [7, false], [300, undefined]]);
  assert.ok(decoded.entries[1]!.checksum.equals(sum(7)));
});

test('version 1 still reads, with every flag unknown', () => {
  const decoded = decodeSums(encodeV1(4096, [1, 5]), 'old.sums');
  assert.equal(decoded.blockSize, 4096);
  assert.deepEqual(decoded.entries.map((e) => [e.index, e.fullBitmap]), [[1, undefined], [5, undefined]]);
});

test('corruption anywhere, unknown flags and disorder are refused with the file named', () => {
  const encoded = encodeSums(4096, [entry(1, true), entry(2, true)]);
  for (const at of [0, 9, 40, 32 + 36, encoded.length - 1]) {
    const bad = Buffer.from(encoded);
    bad[at]! ^= 1;
    assert.throws(() => decodeSums(bad, 'disk.vhd.sums'), (e: Error) => e instanceof SumsFormatError && /disk\.vhd\.sums/.test(e.message));
  }
  assert.throws(() => decodeSums(encoded.subarray(0, 40), 'short'), SumsFormatError);
  assert.throws(() => encodeSums(4096, [entry(2, true), entry(1, true)]), RangeError);
  const flags = Buffer.from(encoded);
  flags.writeUInt32BE(3, 32 + 36);
  createHash('sha256').update(flags.subarray(0, flags.length - 32)).digest().copy(flags, flags.length - 32);
  assert.throws(() => decodeSums(flags, 'f'), /flags 3/);
});

test('the streaming reader yields what decodeSums does, checks the trailing hash, and a cursor finds entries', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'deltachain-sums-'));
  try {
    const indexes = Array.from({ length: 9000 }, (_, i) => i * 3);
    const path = join(dir, 'a.vhd.sums');
    await writeFile(path, encodeSums(2 * 1024 * 1024, indexes.map((i) => entry(i, i % 2 === 0))));
    const reader = await SumsReader.open(path);
    const digest = new DiskDigest();
    const seen: number[] = [];
    for await (const e of reader.entries()) {
      seen.push(e.index);
      digest.add(e.index, e.checksum);
    }
    assert.deepEqual(seen, indexes);
    const cursor = new SumsCursor(reader);
    assert.equal((await cursor.find(3))?.fullBitmap, false);
    assert.equal(await cursor.find(4), undefined);
    assert.ok((await cursor.find(26997))?.checksum.equals(sum(26997)));
    assert.ok((await cursor.find(6))?.checksum.equals(sum(6)), 'a lookup below the last one starts over');
    // Lookups overlapping and a little out of order (blocks read a few at once) get the right entries.
    const overlapping = await Promise.all([300, 303, 301, 306, 303, 309, 300, 312].map((i) => cursor.find(i)));
    assert.deepEqual(overlapping.map((e) => e?.index), [300, 303, undefined, 306, 303, 309, 300, 312]);
    assert.ok((await cursor.find(9))?.checksum.equals(sum(9)), 'further behind than the entries kept: from the start again');
    await reader.close();

    const v1 = join(dir, 'old.vhd.sums');
    await writeFile(v1, encodeV1(4096, [2, 4]));
    const old = await SumsReader.open(v1);
    assert.deepEqual((await collect(old.entries())).map((e) => [e.index, e.fullBitmap]), [[2, undefined], [4, undefined]]);
    await old.close();

    const damaged = encodeSums(4096, [entry(1, true), entry(2, true)]);
    damaged[32 + 10]! ^= 1;
    await writeFile(path, damaged);
    const bad = await SumsReader.open(path, 'vms/x/disks/xvda/a.vhd.sums');
    await assert.rejects(collect(bad.entries()), /vms\/x\/disks\/xvda\/a\.vhd\.sums: trailing hash mismatch/);
    await bad.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('MARKED entries (the checksum covers the marked sectors only) round-trip; MARKED with another bit is refused', () => {
  const entries: SumsEntry[] = [entry(1, true), { index: 2, checksum: sum(2), fullBitmap: false, marked: true }, entry(3, false), entry(4, undefined)];
  const encoded = encodeSums(2 * 1024 * 1024, entries);
  assert.deepEqual(encoded.readUInt32BE(32 + 40 + 36), 4, 'flag bit 2 for the MARKED entry');
  const decoded = decodeSums(encoded, 'x').entries;
  assert.deepEqual(decoded[1], { index: 2, checksum: sum(2), fullBitmap: false, marked: true });
  assert.equal(decoded[2]!.marked, undefined, 'no bit: the whole-block rule of earlier writers');
  assert.throws(() => encodeSums(2 * 1024 * 1024, [{ index: 0, checksum: sum(0), fullBitmap: true, marked: true }]), /MARKED entry is for a block whose bitmap is not all ones/);
  const bad = Buffer.from(encoded);
  bad.writeUInt32BE(4 | 1, 32 + 40 + 36);
  createHash('sha256').update(bad.subarray(0, bad.length - 32)).digest().copy(bad, bad.length - 32);
  assert.throws(() => decodeSums(bad, 'x'), /flags 5, which this version does not know/);
});

test('PIECES entries (piece rules) round-trip with FULL or MARKED, BLAKE3 with them; PIECES alone, BLAKE3 without PIECES, with UNKNOWN or an unknown bitmap is refused', () => {
  const entries: SumsEntry[] = [
    { index: 0, checksum: sum(0), fullBitmap: true, pieces: 'pieces' },
    { index: 1, checksum: sum(1), fullBitmap: false, marked: true, pieces: 'pieces' },
    { index: 2, checksum: sum(2), fullBitmap: true, pieces: 'blake3' },
    { index: 3, checksum: sum(3), fullBitmap: false, marked: true, pieces: 'blake3' },
  ];
  const encoded = encodeSums(2 * 1024 * 1024, entries);
  assert.deepEqual([0, 1, 2, 3].map((i) => encoded.readUInt32BE(32 + i * 40 + 36)), [9, 12, 25, 28], 'FULL|PIECES, MARKED|PIECES, and with BLAKE3');
  assert.deepEqual(decodeSums(encoded, 'f').entries, entries);
  assert.throws(() => encodeSums(2 * 1024 * 1024, [{ index: 0, checksum: sum(0), fullBitmap: undefined, pieces: 'blake3' }]), /PIECES entry needs its bitmap known/);
  for (const flags of [8, 10, 16, 17, 20, 24]) {
    const bad = Buffer.from(encoded);
    bad.writeUInt32BE(flags, 32 + 36);
    createHash('sha256').update(bad.subarray(0, bad.length - 32)).digest().copy(bad, bad.length - 32);
    assert.throws(() => decodeSums(bad, 'f'), new RegExp(`flags ${flags}`));
  }
});
