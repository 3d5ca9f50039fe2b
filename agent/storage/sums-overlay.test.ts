import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SumsEntry } from '../../shared/sums/index.js';
import { overlaySums } from './sums-overlay.js';

async function* table(layer: number, indexes: number[]): AsyncGenerator<SumsEntry> {
  for (const index of indexes) yield { index, checksum: Buffer.from([layer]), fullBitmap: true };
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

test('newest file wins each index; every index once, ascending', async () => {
  const tables = [table(0, [2, 5]), table(1, [0, 2, 3]), table(2, [0, 1, 5, 9])];
  const out = await collect(overlaySums(tables));
  assert.deepEqual(out.map((o) => [o.entry.index, o.layer, o.entry.checksum[0]]), [
    [0, 1, 1],
    [1, 2, 2],
    [2, 0, 0],
    [3, 1, 1],
    [5, 0, 0],
    [9, 2, 2],
  ]);
  assert.deepEqual(await collect(overlaySums([table(0, []), table(1, [])])), []);
});
