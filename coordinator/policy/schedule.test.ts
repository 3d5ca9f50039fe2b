import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { describeScheduleProblem, nextFireTime, nextFireTimes } from './schedule.js';

describe('schedule', () => {
  it('computes fire times in the policy time zone', () => {
    const after = new Date('2024-01-15T12:00:00Z');
    assert.deepEqual(nextFireTimes({ cron: '0 2 * * *', timeZone: 'Europe/Paris' }, after, 2).map((d) => d.toISOString()), [
      '2024-01-16T01:00:00.000Z',
      '2024-01-17T01:00:00.000Z',
    ]);
    assert.equal(nextFireTime({ cron: '0 2 * * *', timeZone: 'UTC' }, after)?.toISOString(), '2024-01-16T02:00:00.000Z');
  });

  it('follows daylight saving changes', () => {
    const after = new Date('2024-03-30T12:00:00Z');
    const times = nextFireTimes({ cron: '30 3 * * *', timeZone: 'Europe/Paris' }, after, 2).map((d) => d.toISOString());
    assert.deepEqual(times, ['2024-03-31T01:30:00.000Z', '2024-04-01T01:30:00.000Z']);
  });

  it('fires strictly after the given instant', () => {
    const at = new Date('2024-01-16T02:00:00Z');
    assert.equal(nextFireTime({ cron: '0 2 * * *', timeZone: 'UTC' }, at)?.toISOString(), '2024-01-17T02:00:00.000Z');
  });

  it('accepts six fields with seconds', () => {
    assert.equal(describeScheduleProblem('*/10 * * * * *', 'UTC'), undefined);
  });

  it('explains what is wrong', () => {
    assert.equal(describeScheduleProblem('0 2 * * *', 'Nowhere/Town')?.field, 'timeZone');
    assert.equal(describeScheduleProblem('every day', 'UTC')?.field, 'cron');
  });
});
