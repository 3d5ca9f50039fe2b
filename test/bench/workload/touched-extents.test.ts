import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CBT_EXTENT, touchedExtents } from './touched-extents.js';

test('touchedExtents counts each 64 KiB extent once, across writes and across boundaries', () => {
  const cases: Array<[string, Array<{ offset: number; length: number }>, number]> = [
    ['nothing', [], 0],
    ['one 4 KiB page', [{ offset: 4096, length: 4096 }], 1],
    ['two pages in one extent', [{ offset: 0, length: 4096 }, { offset: 8192, length: 4096 }], 1],
    ['a page ending at a boundary', [{ offset: CBT_EXTENT - 4096, length: 4096 }], 1],
    ['a page across a boundary', [{ offset: CBT_EXTENT - 2048, length: 4096 }], 2],
    ['one aligned 2 MiB run', [{ offset: 2 * 1024 * 1024, length: 2 * 1024 * 1024 }], 32],
  ];
  for (const [name, writes, expected] of cases) assert.equal(touchedExtents(writes), expected, name);
});
