import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatFields, formatTable } from './format-table.js';
import { humanSize } from '../../shared/human-units.js';
import { humanDuration, humanTime } from './format-values.js';

describe('formatTable', () => {
  it('aligns columns and right-aligns numbers', () => {
    const text = formatTable(
      [
        { name: 'a', size: 5 },
        { name: 'longer', size: 12345 },
      ],
      [
        { header: 'NAME', value: (r) => r.name },
        { header: 'SIZE', value: (r) => r.size, right: true },
      ],
    );
    assert.equal(text, 'NAME     SIZE\na           5\nlonger  12345\n');
  });
  it('prints only the header for no rows', () => {
    assert.equal(formatTable([], [{ header: 'X', value: () => '' }]), 'X\n');
  });
  it('aligns fields', () => {
    assert.equal(formatFields([['a', 1], ['long', 'x']]), 'a:    1\nlong: x\n');
  });
});

describe('format values', () => {
  it('sizes in binary units', () => {
    assert.deepEqual([0, 1023, 1024, 1536, 5 * 2 ** 30, 300 * 2 ** 20].map(humanSize), ['0 B', '1023 B', '1 KiB', '1.5 KiB', '5 GiB', '300 MiB']);
  });
  it('durations', () => {
    assert.deepEqual([0, 59_000, 61_000, 3_600_000, 50 * 3_600_000].map(humanDuration), ['0s', '59s', '1m01s', '1h00m', '2d02h']);
  });
  it('times in UTC, "-" when unset', () => {
    assert.equal(humanTime(0), '-');
    assert.equal(humanTime(Date.UTC(2024, 5, 1, 2)), '2024-06-01 02:00:00Z');
  });
});
