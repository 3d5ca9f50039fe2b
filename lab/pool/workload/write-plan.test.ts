import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { contentSource } from './content-kind.js';
import { patternContent, patternKey } from './pattern-content.js';
import { planWrites, totalBytes, type WritePattern } from './write-plan.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

describe('planWrites', () => {
  const cases: [WritePattern, number, number, number][] = [
    ['clustered', 4 * GiB, 1, 41 * MiB],
    ['clustered-64k', 4 * GiB, 1, 41 * MiB],
    ['scattered', 64 * MiB, 2, 1.28 * MiB],
    ['sequential', 64 * MiB, 10, 6.4 * MiB],
  ];
  for (const [pattern, size, percent, bytes] of cases) {
    it(`${pattern} ${percent}% of ${size / MiB} MiB writes about ${Math.round(bytes / 1024)} KiB, sorted and disjoint`, () => {
      const extents = planWrites({ pattern, virtualSize: size, percent, seed: 7 });
      assert.ok(Math.abs(totalBytes(extents) - bytes) <= Math.max(bytes * 0.05, 4096 * 2), `${totalBytes(extents)} bytes`);
      for (let i = 1; i < extents.length; i++) {
        assert.ok(extents[i]!.offset >= extents[i - 1]!.offset + extents[i - 1]!.length, 'disjoint and sorted');
      }
      for (const e of extents) assert.ok(e.offset + e.length <= size);
      assert.deepEqual(planWrites({ pattern, virtualSize: size, percent, seed: 7 }), extents, 'deterministic');
      assert.notDeepEqual(planWrites({ pattern, virtualSize: size, percent, seed: 8 }), extents, 'seed matters');
    });
  }

  it('clustered writes are whole 2 MiB aligned runs', () => {
    for (const e of planWrites({ pattern: 'clustered', virtualSize: 64 * MiB, percent: 25, seed: 1 })) {
      assert.equal(e.offset % (2 * MiB), 0);
      assert.equal(e.length, 2 * MiB);
    }
  });

  it('clustered-64k writes are whole 64 KiB aligned runs', () => {
    for (const e of planWrites({ pattern: 'clustered-64k', virtualSize: 64 * MiB, percent: 5, seed: 1 })) {
      assert.equal(e.offset % (64 * 1024), 0);
      assert.equal(e.length, 64 * 1024);
    }
  });

  it('handles a 100% rewrite, a partial last block and bad input', () => {
    const all = planWrites({ pattern: 'clustered', virtualSize: 5 * MiB, percent: 100, seed: 3 });
    assert.deepEqual(all, [
      { offset: 0, length: 2 * MiB },
      { offset: 2 * MiB, length: 2 * MiB },
      { offset: 4 * MiB, length: MiB },
    ]);
    assert.throws(() => planWrites({ pattern: 'scattered', virtualSize: MiB, percent: 0, seed: 1 }), /percent/);
  });
});

describe('patternContent', () => {
  it('is deterministic and position-addressable', () => {
    const key = patternKey(42);
    const whole = patternContent(key, 0, 8192);
    assert.deepEqual(patternContent(key, 4096, 4096), whole.subarray(4096));
    assert.notDeepEqual(patternContent(patternKey(43), 0, 8192), whole);
  });

  it('is what the random content kind writes', () => {
    assert.deepEqual(contentSource('random', 42)(4096, 4096), patternContent(patternKey(42), 4096, 4096));
  });
});
