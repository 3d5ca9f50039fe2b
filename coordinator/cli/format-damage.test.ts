import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatBlocks, formatDamage } from './format-damage.js';

describe('formatDamage', () => {
  it('names every backup once, then each disk with file, blocks and reason', () => {
    const text = formatDamage([
      { backupId: 'b2', diskKey: 'd1', file: 'vms/v/disks/d1/b1.vhd', blocks: [4], reason: 'checksum mismatch' },
      { backupId: 'b3', diskKey: 'd1', file: 'vms/v/disks/d1/b1.vhd', blocks: [4], reason: 'checksum mismatch' },
      { backupId: 'b2', diskKey: 'd1', file: 'vms/v/disks/d1/b1.vhd', blocks: [4], reason: 'checksum mismatch' },
      { backupId: 'b3', diskKey: '', file: '', blocks: [], reason: 'restore failed' },
    ]);
    assert.equal(text, [
      '  backup b2',
      '    disk d1: file vms/v/disks/d1/b1.vhd block 4: checksum mismatch',
      '  backup b3',
      '    disk d1: file vms/v/disks/d1/b1.vhd block 4: checksum mismatch',
      '    every disk: restore failed',
      '',
    ].join('\n'));
    assert.equal(formatDamage([]), '');
  });
  it('cuts long block lists', () => {
    assert.equal(formatBlocks([1, 2]), 'blocks 1, 2');
    assert.match(formatBlocks([...Array(30).keys()]), /^blocks 0, 1, .*, 23, … \(30 in all\)$/);
  });
});
