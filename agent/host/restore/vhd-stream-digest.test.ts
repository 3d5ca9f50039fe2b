// The chain digest of a restore stream, computed as it flows, against the definition computed
// independently (every allocated block of the chain, ascending: SHA-256(full bitmap ‖ the chain's
// data)); the gate that holds the closing footer back until that digest matched.
import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { DiskDigest, blockChecksum, pieceHashes, piecesChecksum } from '../../../shared/grpc/disk-checksum.js';
import { ChainReader } from '../../../shared/vhd/chain-reader.js';
import { FOOTER_SIZE, VhdFormatError, bitmapSize, fullBitmap } from '../../../shared/vhd/format/index.js';
import { syntheticVhdStream } from '../../../shared/vhd/synthetic-stream.js';
import { buildVhdStream } from '../../../shared/vhd/testing/build-vhd-stream.js';
import { buildChain } from '../../../test/support/vhd-chain-builder.js';
import { withVhdTempDir } from '../../../test/support/vhd-temp-dir.js';
import { ChainDigestGate } from './chain-digest-gate.js';
import { VhdStreamDigest } from './vhd-stream-digest.js';

const MiB = 1024 * 1024;

/** A depth-3 chain with partial blocks: its synthetic stream and its chain digest by definition. */
async function syntheticChain(dir: string): Promise<{ bytes: Buffer; digest: Buffer; piecesDigest: Buffer; blocks: number }> {
  const built = await buildChain({ dir, size: 20 * MiB + 5 * 512, depth: 3, seed: 'stream-digest', partialPages: true });
  const chain = await ChainReader.open(built.paths[0]!);
  try {
    const expected = new DiskDigest();
    const byPieces = new DiskDigest();
    const bitmap = fullBitmap(bitmapSize(chain.blockSize));
    for (const index of chain.allocatedBlocks()) {
      const data = await chain.readBlock(index);
      expected.add(index, blockChecksum(bitmap, data));
      byPieces.add(index, piecesChecksum(bitmap, pieceHashes('pieces', bitmap, data, chain.blockSize)));
    }
    const { stream, length } = syntheticVhdStream(chain);
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    const bytes = Buffer.concat(chunks);
    assert.equal(bytes.length, length);
    return { bytes, digest: expected.digest(), piecesDigest: byPieces.digest(), blocks: expected.count };
  } finally {
    await chain.close();
  }
}

function* cut(bytes: Buffer, sizes: number[]): Generator<Buffer> {
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const size = sizes[i % sizes.length]!;
    yield bytes.subarray(at, at + size);
    at += size;
  }
}

async function throughGate(chunks: Iterable<Buffer>, gate: ChainDigestGate): Promise<{ out: Buffer; error: unknown }> {
  const out: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      out.push(chunk);
      done();
    },
  });
  const error = await pipeline(Readable.from(chunks), gate, sink).then(() => undefined, (e: unknown) => e);
  return { out: Buffer.concat(out), error };
}

const gateFor = (length: number, expected: Buffer) =>
  new ChainDigestGate({ length, expected, rule: 'whole', where: 'test stream', mismatch: () => new Error('MISMATCH'), invalid: (cause) => new Error(`INVALID: ${(cause as Error).message}`) });

describe('VhdStreamDigest', () => {
  it('computes the chain digest of a synthetic stream by either rule, whatever the chunk boundaries', async () => {
    await withVhdTempDir(async (dir) => {
      const { bytes, digest, piecesDigest, blocks } = await syntheticChain(dir);
      assert.ok(!digest.equals(piecesDigest));
      for (const sizes of [[bytes.length], [1, 511, 513, 7], [4096], [65535, 65537], [MiB + 3, 17], [2 * MiB + 512]]) {
        for (const [rule, want] of [['whole', digest], ['pieces', piecesDigest]] as const) {
          const computed = new VhdStreamDigest('test stream', rule);
          for (const chunk of cut(bytes, sizes)) computed.update(chunk);
          assert.ok(computed.digest().equals(want), `${rule}: chunks of ${sizes.join(', ')} bytes`);
          assert.equal(computed.blocks, blocks);
        }
      }
    });
  });

  it('a changed byte anywhere in a block changes the digest', async () => {
    await withVhdTempDir(async (dir) => {
      const { bytes, digest } = await syntheticChain(dir);
      const flipped = Buffer.from(bytes);
      flipped[bytes.length - FOOTER_SIZE - 12345]! ^= 0x01;
      const computed = new VhdStreamDigest();
      computed.update(flipped);
      assert.ok(!computed.digest().equals(digest));
    });
  });

  it('refuses a stream that ends early, and blocks out of index order', async () => {
    await withVhdTempDir(async (dir) => {
      const { bytes } = await syntheticChain(dir);
      const short = new VhdStreamDigest('short stream');
      short.update(bytes.subarray(0, bytes.length - FOOTER_SIZE - 1));
      assert.throws(() => short.digest(), /short stream: the stream ended after \d+ bytes, before block \d+ was whole/);
    });
    const data = (fill: number) => Buffer.alloc(2 * MiB, fill);
    const { bytes } = buildVhdStream({ currentSize: 8 * MiB, blocks: [{ index: 3, data: data(3) }, { index: 1, data: data(1) }] });
    const unordered = new VhdStreamDigest();
    assert.throws(() => unordered.update(bytes), (error: unknown) => error instanceof VhdFormatError && /block 1 comes after block 3/.test(error.message));
  });
});

describe('ChainDigestGate', () => {
  it('passes every byte through when the digest matches', async () => {
    await withVhdTempDir(async (dir) => {
      const { bytes, digest } = await syntheticChain(dir);
      const gate = gateFor(bytes.length, digest);
      const { out, error } = await throughGate(cut(bytes, [MiB + 100]), gate);
      assert.equal(error, undefined);
      assert.ok(out.equals(bytes));
      assert.equal(gate.matched, true);
    });
  });

  it('withholds the closing footer and fails when the digest differs', async () => {
    await withVhdTempDir(async (dir) => {
      const { bytes, digest } = await syntheticChain(dir);
      const wrong = Buffer.from(digest);
      wrong[0]! ^= 0xff;
      const gate = gateFor(bytes.length, wrong);
      const { out, error } = await throughGate(cut(bytes, [300_000]), gate);
      assert.match(String(error), /MISMATCH/);
      assert.equal(gate.failure, error);
      assert.equal(gate.matched, false);
      assert.ok(out.length <= bytes.length - FOOTER_SIZE, 'the closing footer never left the gate');
      assert.ok(out.equals(bytes.subarray(0, out.length)), 'what left is the stream unchanged');
    });
  });

  it('fails with the invalid error on a stream it cannot digest', async () => {
    const garbage = Buffer.alloc(4096, 0x55);
    const gate = gateFor(garbage.length, Buffer.alloc(32));
    const { error } = await throughGate([garbage], gate);
    assert.match(String(error), /INVALID: .*footer/);
  });
});
