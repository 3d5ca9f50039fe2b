import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planGuestWrites } from './guest-writes.js';

describe('planGuestWrites', () => {
  it('writes disk 0 every day and the other disks every other day, one write per disk', () => {
    for (let day = 1; day <= 10; day++) {
      const writes = planGuestWrites(day, 0, 3, 7);
      assert.equal(writes[0]!.disk, 0);
      assert.equal(new Set(writes.map((w) => w.disk)).size, writes.length, 'one write per disk');
      assert.ok(writes.every((w) => w.percent > 0 && w.percent <= 10));
    }
    const disk1Days = [1, 2, 3, 4].filter((day) => planGuestWrites(day, 0, 2, 7).some((w) => w.disk === 1));
    assert.deepEqual(disk1Days, [1, 3]);
  });

  it('is deterministic and differs between days and VMs', () => {
    assert.deepEqual(planGuestWrites(2, 1, 2, 7), planGuestWrites(2, 1, 2, 7));
    assert.notEqual(planGuestWrites(2, 0, 1, 7)[0]!.seed, planGuestWrites(3, 0, 1, 7)[0]!.seed);
    assert.notEqual(planGuestWrites(2, 0, 1, 7)[0]!.seed, planGuestWrites(2, 1, 1, 7)[0]!.seed);
  });
});
