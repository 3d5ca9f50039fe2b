// parseVhdStream on hostile input: every failure is a VhdFormatError saying what and at which
// byte, found before anything is allocated from the bad value, and no input makes it hang — in
// both buffer modes (fresh buffers per block, and borrowed buffers the parser recycles).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DiskType, VhdFormatError, encodeFooter, newFooter, parseVhdStream } from './index.js';
import { MAX_BAT_BYTES, MAX_GAP } from './stream-parser.js';
import { TEST_UUID, buildVhdStream, chunked, type StreamSpec } from './testing/build-vhd-stream.js';

const KiB = 1024;
const BS = 4 * KiB;

function block(index: number, byte = index + 1): { index: number; data: Buffer } {
  return { index, data: Buffer.alloc(BS, byte) };
}

function valid(overrides: Partial<StreamSpec> = {}): Buffer {
  return buildVhdStream({ currentSize: 6 * BS, blockSize: BS, blocks: [block(0), block(3), block(4)], ...overrides }).bytes;
}

/** Parses and drains; resolves to the error (or undefined when the input was accepted). */
async function parseAll(input: AsyncIterable<Buffer>, reuseBuffers: boolean): Promise<unknown> {
  try {
    const stream = await parseVhdStream(input, { where: 'test stream', reuseBuffers });
    let n = 0;
    for await (const b of stream.blocks()) {
      assert.equal(b.data.length, stream.header.blockSize);
      n++;
    }
    assert.ok(n <= stream.bat.length);
    return undefined;
  } catch (error) {
    return error;
  }
}

async function rejectsWith(input: Buffer | AsyncIterable<Buffer>, pattern: RegExp, reuseBuffers: boolean): Promise<VhdFormatError> {
  const error = await parseAll(Buffer.isBuffer(input) ? chunked(input, 1536) : input, reuseBuffers);
  assert.ok(error instanceof VhdFormatError, `expected a VhdFormatError matching ${pattern}, got ${String(error)}`);
  assert.equal(error.code, 'INVALID_INPUT');
  assert.match(error.message, /^test stream/);
  assert.match(error.message, pattern);
  return error;
}

async function* endless(make: () => Buffer, prefix?: Buffer): AsyncGenerator<Buffer> {
  if (prefix) yield prefix;
  for (;;) yield make();
}

for (const reuseBuffers of [false, true]) describe(`parseVhdStream rejects malformed input (${reuseBuffers ? 'borrowed' : 'fresh'} buffers)`, () => {
  const accepts = (input: AsyncIterable<Buffer>): Promise<unknown> => parseAll(input, reuseBuffers);
  const rejects = (input: Buffer | AsyncIterable<Buffer>, pattern: RegExp): Promise<VhdFormatError> => rejectsWith(input, pattern, reuseBuffers);

  it('truncated at any offset: says where the stream ended', async () => {
    const bytes = valid({ diskType: DiskType.Differencing });
    assert.equal(await accepts(chunked(bytes, 700)), undefined);
    const cuts = new Set<number>();
    for (let at = 0; at < bytes.length; at += 97) cuts.add(at);
    for (const s of [512, 1024, 1536, 2048, 2560, bytes.length - 512]) for (const d of [-1, 0, 1]) cuts.add(s + d);
    for (const cut of cuts) {
      const error = await rejects(bytes.subarray(0, cut), /stream ends at byte/);
      assert.match(error.message, new RegExp(`stream ends at byte ${cut},`), `cut at ${cut}`);
    }
  });

  it('bad checksums in the footer, header and trailing footer', async () => {
    const bytes = valid();
    for (const [at, what] of [
      [64, /footer at byte 0: bad checksum/], [67, /footer at byte 0: bad checksum/], [100, /footer at byte 0: bad checksum/],
      [512 + 36, /dynamic header at byte 512: bad checksum/], [512 + 600, /dynamic header at byte 512: bad checksum/],
      [bytes.length - 512 + 65, /trailing footer at byte \d+: bad checksum/],
    ] as const) {
      const copy = Buffer.from(bytes);
      copy[at]! ^= 0x10;
      await rejects(copy, what);
    }
  });

  it('BAT entries that overlap, repeat, or point into the footer, header or BAT', async () => {
    const cases: [(bat: Uint32Array) => void, RegExp][] = [
      [(bat) => { bat[3] = bat[0]! + 1; }, /BAT entry (0|3): block at byte \d+ overlaps block (0|3)/],
      [(bat) => { bat[4] = bat[3]!; }, /BAT entry (3|4): .*overlaps block/],
      [(bat) => { bat[0] = 1; }, /BAT entry 0: block at bytes 512\.\.5120 overlaps the dynamic header/],
      [(bat) => { bat[3] = 0; }, /BAT entry 3: .*overlaps the footer copy/],
      [(bat) => { bat[4] = 4; }, /BAT entry 4: .*overlaps the BAT/],
      [(bat) => { bat[5] = 0xfffffffe; }, /test stream: block 5 at byte \d+ is more than/],
    ];
    for (const [patchBat, pattern] of cases) await rejects(valid({ patchBat }), pattern);
  });

  it('block sizes that are not a power of two or out of range', async () => {
    await rejects(valid({ patchHeader: (h) => { h.blockSize = 3 * 1024 * 1024; } }), /block size 3145728 is not a power of two/);
    await rejects(valid({ patchHeader: (h) => { h.blockSize = 0; } }), /block size 0 is not a power of two/);
    await rejects(valid({ patchHeader: (h) => { h.blockSize = 128 * 1024 * 1024; } }), /block size 134217728 outside/);
    await rejects(valid({ patchHeader: (h) => { h.blockSize = 512; } }), /block size 512 outside/);
  });

  it('sizes past the limits, before allocating anything from them', async () => {
    await rejects(valid({ patchFooter: (f) => { f.currentSize = 3 * 2 ** 40; } }), /current size \d+ bytes is past the limit/);
    await rejects(valid({ patchHeader: (h) => { h.maxTableEntries = 0xffffffff; } }), /BAT of 4294967295 entries is past the limit/);
    await rejects(valid({ patchHeader: (h) => { h.maxTableEntries = 2; } }), /BAT has 2 entries, the disk size needs 6/);
    // 1 TiB of 4 KiB blocks: a 1 GiB table, refused from the header alone.
    const huge = valid({ blocks: [], patchFooter: (f) => { f.currentSize = 2 ** 40; }, patchHeader: (h) => { h.maxTableEntries = 2 ** 28; } });
    const error = await rejects(huge.subarray(0, 2048), /BAT of 268435456 entries is past the limit of/);
    assert.ok(MAX_BAT_BYTES < 2 ** 30, String(error));
  });

  it('a disk of size zero with an empty BAT is parsed without a crash', async () => {
    const bytes = valid({ blocks: [], currentSize: 0 });
    for (const size of [100, 512]) assert.equal(await accepts(chunked(bytes, size)), undefined);
  });

  it('structures out of place: header offset, BAT offset, gaps past the limit, a fixed disk', async () => {
    await rejects(valid({ patchFooter: (f) => { f.dataOffset = 0; } }), /dynamic header at byte 0 overlaps the structure before it/);
    await rejects(valid({ patchFooter: (f) => { f.dataOffset = MAX_GAP * 4; } }), /dynamic header at byte \d+ is more than/);
    await rejects(valid({ patchHeader: (h) => { h.tableOffset = 1024; } }), /BAT at byte 1024 overlaps the structure before it/);
    await rejects(valid({ patchHeader: (h) => { h.tableOffset = 2 ** 40; } }), /BAT at byte 1099511627776 is more than/);
    const fixed = encodeFooter(newFooter({ diskType: DiskType.Fixed, currentSize: 6 * BS, uuid: TEST_UUID }));
    await rejects(Buffer.concat([fixed, Buffer.alloc(4096)]), /fixed VHDs cannot be streamed/);
  });

  it('a trailing footer that does not match, or data after it', async () => {
    const other = encodeFooter(newFooter({ diskType: DiskType.Dynamic, currentSize: 6 * BS, uuid: '99999999-9999-4999-8999-999999999999' }));
    await rejects(valid({ trailingFooter: other }), /trailing footer at byte \d+: does not match the footer at byte 0 \(timestamp, uuid differ\)/);
    const later = encodeFooter(newFooter({ diskType: DiskType.Dynamic, currentSize: 6 * BS, uuid: TEST_UUID, date: new Date('2024-01-01T00:00:00Z') }));
    await rejects(valid({ trailingFooter: later }), /does not match the footer at byte 0 \(timestamp differ\)/);
    await rejects(Buffer.concat([valid(), randomBytes(512)]), /trailing footer at byte \d+: bad cookie/);
    await rejects(valid({ trailingFooter: null }), /trailing footer after byte \d+: stream ends/);
  });

  it('endless garbage ends with an error, not a hang', { timeout: 30_000 }, async () => {
    await rejects(endless(() => randomBytes(64 * KiB)), /footer at byte 0: bad cookie/);
    // Valid metadata, no blocks, then zeros forever where the trailing footer should be.
    const head = valid({ blocks: [], trailingFooter: null });
    const zeros = Buffer.alloc(256 * KiB);
    await rejects(endless(() => zeros, head), /more than \d+ bytes follow byte \d+; expected the end of the stream/);
  });

  it('random corruption of a valid stream yields its blocks or a VhdFormatError, never anything else', async () => {
    const base = valid({ diskType: DiskType.Differencing });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 8 }),
        fc.option(fc.nat(base.length)),
        fc.integer({ min: 1, max: 5000 }),
        async (flips, cut, chunk) => {
          const bytes = Buffer.from(base);
          for (const [at, mask] of flips) bytes[at]! ^= mask;
          const error = await accepts(chunked(cut === null ? bytes : bytes.subarray(0, cut), chunk));
          assert.ok(error === undefined || error instanceof VhdFormatError, `unexpected ${String(error)}`);
        },
      ),
      { numRuns: 300 },
    );
  });
});
