import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readProc, resetPeak } from './bench/lib/proc.js';
import { figure } from './bench/lib/stats.js';

describe('figure', () => {
  it('is the median with min and max, runs kept in order', () => {
    assert.deepEqual(figure([3, 1, 2]), { median: 2, min: 1, max: 3, runs: [3, 1, 2] });
    assert.equal(figure([4, 1, 2, 3]).median, 2.5);
    assert.throws(() => figure([]), /at least one/);
    assert.throws(() => figure([1, Number.NaN]), /NaN/);
  });
});

describe('readProc', () => {
  it("reads this process's CPU, RSS and I/O from /proc, and resets its peak", async () => {
    const before = await readProc(process.pid);
    let x = 0;
    for (let i = 0; i < 2e7; i++) x += i % 7;
    assert.ok(x > 0);
    const after = await readProc(process.pid);
    assert.ok(after.cpuSec >= before.cpuSec);
    assert.ok(after.rssMiB > 10 && after.peakMiB >= after.rssMiB - 1);
    assert.ok(after.rchar > 0);
    await resetPeak(process.pid);
    const reset = await readProc(process.pid);
    assert.ok(reset.peakMiB <= after.peakMiB + 1);
  });
});
