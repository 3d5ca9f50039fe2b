import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkDelta, checkFull, checkOneSnapshot, checkReadOverCbt, checkRetained, expectedDeltaBytes } from './story-checks.js';
import type { BackupOutcome } from './run-summary.js';
import { formatDuration } from './format-units.js';
import { humanSize } from '../../shared/human-units.js';

const MiB = 1024 * 1024;
const outcome = (o: Partial<BackupOutcome>): BackupOutcome => ({ vmUuid: 'v', remote: 'nas', backupId: 'b', bytesSent: 0, durationMs: 0, disks: 2, fullDisks: 0, plan: {}, reads: [], ...o });

describe('story checks', () => {
  it('a delta must be a delta and carry about the changed blocks', () => {
    assert.equal(checkDelta('web', outcome({ bytesSent: 2 * 2 * MiB + 1024 }), 2).ok, true);
    assert.equal(checkDelta('web', outcome({ bytesSent: 4 * 2 * MiB }), 2).ok, false, 'twice the changed blocks');
    assert.equal(checkDelta('web', outcome({ bytesSent: 2 * MiB - 1 }), 1).ok, false, 'less than the changed block');
    assert.equal(checkDelta('web', outcome({ bytesSent: 2 * MiB, fullDisks: 1 }), 1).ok, false, 'one disk went full');
    assert.equal(checkDelta('web', outcome({ bytesSent: 0 }), 0).ok, true, 'nothing changed, nothing sent');
    assert.match(checkDelta('web', outcome({ bytesSent: 2 * MiB + 512 }), 1).text, /web: a delta \(delta\) of 2 MiB for 1 changed block/);
  });

  it('the slack allows bitmaps and headers, not another block', () => {
    const [min, max] = expectedDeltaBytes(10, 3);
    assert.equal(min, 10 * 2 * MiB);
    assert.ok(max - min < 2 * MiB);
  });

  it('a full must have every disk full', () => {
    assert.equal(checkFull('db', outcome({ fullDisks: 2 })).ok, true);
    assert.equal(checkFull('db', outcome({ fullDisks: 1 })).ok, false);
    assert.equal(checkFull('db', outcome({ disks: undefined, fullDisks: undefined })).ok, false);
  });

  it('retention: the catalogue and the remote both hold exactly the retained count', () => {
    assert.equal(checkRetained('web', 'nas', 3, 3, 3).ok, true);
    assert.equal(checkRetained('web', 'nas', 3, 4, 3).ok, false);
    assert.equal(checkRetained('web', 'nas', 2, 3, 3).ok, false);
  });

  it('CBT: every disk read over CBT and NBD, or the check fails naming the disk and why not', () => {
    const cbt = { diskKey: 'd1', readMethod: 'cbt-nbd', fallbackReason: '' };
    assert.equal(checkReadOverCbt('web', outcome({ reads: [cbt, { ...cbt, diskKey: 'd2' }] })).ok, true);
    const fellBack = checkReadOverCbt('web', outcome({ reads: [cbt, { diskKey: 'd2', readMethod: 'vhd-export', fallbackReason: 'nbd-unavailable' }] }));
    assert.equal(fellBack.ok, false);
    assert.match(fellBack.text, /not: d2: vhd-export \(nbd-unavailable\)/);
    assert.equal(checkReadOverCbt('web', outcome({ reads: [] })).ok, false, 'an agent that reports nothing is not counted as CBT');
  });

  it('exactly one reference snapshot', () => {
    assert.deepEqual([0, 1, 2].map((n) => checkOneSnapshot('web', n).ok), [false, true, false]);
  });

  it('formats sizes and durations', () => {
    assert.deepEqual([0, 1023, 2048, 4 * MiB + 1024, 3 * 1024 * MiB].map(humanSize), ['0 B', '1023 B', '2 KiB', '4 MiB', '3 GiB']);
    assert.deepEqual([15, 1500].map(formatDuration), ['15 ms', '1.5 s']);
  });
});
