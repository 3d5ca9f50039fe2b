import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSize } from './parse-size.js';

describe('parseSize', () => {
  it('reads bytes and binary units', () => {
    assert.equal(parseSize('16GiB'), 16 * 2 ** 30);
    assert.equal(parseSize('512 MiB'), 512 * 2 ** 20);
    assert.equal(parseSize('4g'), 4 * 2 ** 30);
    assert.equal(parseSize('1.5KiB'), 1536);
    assert.equal(parseSize(4096), 4096);
    assert.equal(parseSize('4096'), 4096);
  });

  it('refuses what is not a size, naming the flag', () => {
    assert.throws(() => parseSize('lots', '--disk-size'), /--disk-size: "lots" is not a size/);
    assert.throws(() => parseSize('16GB'), /not a size/);
    assert.throws(() => parseSize(0), /positive/);
    assert.throws(() => parseSize(-1), /positive/);
  });
});
