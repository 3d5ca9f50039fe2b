import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatBlockRanges } from './block-ranges.js';
import { humanSize } from '../../human-units.js';

describe('formatBlockRanges', () => {
  it('joins runs of consecutive indexes', () => {
    assert.equal(formatBlockRanges([]), '');
    assert.equal(formatBlockRanges([7]), '7');
    assert.equal(formatBlockRanges([0, 1, 2, 3, 5, 9, 10]), '0-3,5,9-10');
  });
});

describe('humanSize', () => {
  it('uses binary units with at most two decimals', () => {
    assert.equal(humanSize(0), '0 B');
    assert.equal(humanSize(512), '512 B');
    assert.equal(humanSize(2 * 1024 * 1024), '2 MiB');
    assert.equal(humanSize(1.5 * 1024 ** 3), '1.5 GiB');
    assert.equal(humanSize(12588544), '12.01 MiB');
    assert.equal(humanSize(2040 * 1024 ** 3), '1.99 TiB');
  });
});
