// ChunkReader against the plain buffer it reads: any chunking (empty chunks and Uint8Arrays too),
// any mix of read / readInto / copyInto / skip, then readTail — same bytes, same positions; views
// only where one chunk holds the range; truncation errors say where the stream ended.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ChunkReader } from './chunk-reader.js';
import { VhdFormatError } from './format/index.js';

function bytes(n: number): Buffer {
  const buf = Buffer.alloc(n);
  for (let i = 0; i < n; i++) buf[i] = (i * 131 + (i >> 8)) & 0xff;
  return buf;
}

/** Cuts `source` at the given sizes (cycling; zero sizes make empty chunks). */
function cut(source: Buffer, sizes: number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0, k = 0; at < source.length; k++) {
    const n = sizes[k % sizes.length]!;
    const piece = source.subarray(at, at + n);
    out.push(k % 3 === 1 ? new Uint8Array(piece.buffer, piece.byteOffset, piece.length) : piece);
    at += n;
    if (k > 10 * source.length + 10) throw new Error('sizes must not all be zero');
  }
  return out;
}

type Op = { kind: 'read' | 'readInto' | 'copyInto' | 'skip'; n: number };

const op = fc.record({ kind: fc.constantFrom('read', 'readInto', 'copyInto', 'skip'), n: fc.nat(700) }) as fc.Arbitrary<Op>;

describe('ChunkReader', () => {
  it('reads the same bytes as the buffer it was cut from, in any chunking and any mix of calls', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(3000), fc.array(fc.nat(900), { minLength: 1, maxLength: 6 }), fc.array(op, { maxLength: 12 }), async (length, sizes, ops) => {
        fc.pre(sizes.some((s) => s > 0));
        const source = bytes(length);
        const reader = new ChunkReader(cut(source, sizes));
        let at = 0;
        for (const { kind, n } of ops) {
          if (at + n > length) break;
          if (kind === 'skip') await reader.skip(n, 'test');
          else if (kind === 'copyInto') {
            const target = Buffer.alloc(n);
            await reader.copyInto(target, 'test');
            assert.ok(target.equals(source.subarray(at, at + n)));
          } else {
            const target = Buffer.alloc(n);
            const got = kind === 'read' ? await reader.read(n, 'test') : await reader.readInto(target, 'test');
            assert.ok(got.equals(source.subarray(at, at + n)), `${kind} ${n} at ${at}`);
            if (kind === 'readInto' && got !== target) assert.equal(got.buffer, source.buffer, 'not copied: a view of a chunk');
          }
          at += n;
          assert.equal(reader.position, at);
        }
        const keep = Math.min(512, length - at);
        const tail = await reader.readTail(keep, length, 'tail');
        assert.ok(tail.equals(source.subarray(length - keep)));
        assert.equal(reader.position, length);
      }),
      { numRuns: 400 },
    );
  });

  it('returns a view when one chunk holds the range, and copies into the target otherwise', async () => {
    const source = bytes(4096);
    const reader = new ChunkReader([source.subarray(0, 1000), source.subarray(1000)]);
    const target = Buffer.alloc(600);
    const first = await reader.readInto(target, 'test');
    assert.notEqual(first, target);
    assert.equal(first.buffer, source.buffer);
    const second = await reader.readInto(target, 'test'); // 600..1200 spans the two chunks
    assert.equal(second, target);
    assert.ok(second.equals(source.subarray(600, 1200)));
  });

  it('says where the stream ended and how many bytes were missing', async () => {
    const source = bytes(1000);
    const cases: [string, (r: ChunkReader) => Promise<unknown>, RegExp][] = [
      ['read', (r) => r.read(1200, 'the read'), /^the read: stream ends at byte 1000, 200 bytes short$/],
      ['readInto', (r) => r.readInto(Buffer.alloc(1001), 'the read'), /stream ends at byte 1000, 1 bytes short$/],
      ['copyInto', (r) => r.copyInto(Buffer.alloc(1500), 'the copy'), /^the copy: stream ends at byte 1000, 500 bytes short$/],
      ['skip', (r) => r.skip(1300, 'the skip'), /^the skip: stream ends at byte 1000, 300 bytes short$/],
      ['readTail', (r) => r.readTail(1024, 4096, 'the tail'), /^the tail: stream ends at byte 1000, 24 bytes short$/],
      ['readTail past max', (r) => r.readTail(10, 999, 'the tail'), /more than 999 bytes follow byte 0/],
    ];
    for (const [what, call, pattern] of cases) {
      for (const sizes of [[1000], [300], [1, 0, 77]]) {
        const error = await call(new ChunkReader(cut(source, sizes))).catch((e: unknown) => e);
        assert.ok(error instanceof VhdFormatError, `${what}: ${String(error)}`);
        assert.match(error.message, pattern, `${what} in chunks of ${String(sizes)}`);
      }
    }
  });

  it('refuses chunks that are not bytes, and close() stops the source once', async () => {
    await assert.rejects(new ChunkReader(['text' as unknown as Buffer]).read(1, 'test'), /chunks must be bytes, got string/);
    let returned = 0;
    const source: AsyncIterable<Buffer> = {
      [Symbol.asyncIterator]: () => ({
        next: async () => ({ done: false, value: Buffer.alloc(10) }),
        return: async () => {
          returned++;
          return { done: true, value: undefined };
        },
      }),
    };
    const reader = new ChunkReader(source);
    assert.equal((await reader.read(4, 'test')).length, 4);
    await reader.close();
    await reader.close();
    assert.equal(returned, 1);
    await assert.rejects(reader.read(20, 'after close'), /after close: stream ends at byte 4/);
  });
});
