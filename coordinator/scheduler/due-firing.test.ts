import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { dueFiring } from './due-firing.js';
import { backupIdFor } from './backup-id.js';

const daily = { cron: '0 2 * * *', timeZone: 'UTC' };
const t = (s: string) => new Date(s);

describe('dueFiring', () => {
  const table: [string, string, string, string | undefined][] = [
    ['nothing due before the first firing', '2024-01-01T03:00:00Z', '2024-01-02T01:59:59Z', undefined],
    ['due exactly at the firing', '2024-01-01T03:00:00Z', '2024-01-02T02:00:00Z', '2024-01-02T02:00:00.000Z'],
    ['due a little after', '2024-01-01T03:00:00Z', '2024-01-02T02:00:07Z', '2024-01-02T02:00:00.000Z'],
    ['not again once recorded', '2024-01-02T02:00:00Z', '2024-01-02T05:00:00Z', undefined],
    ['after an outage, only the newest missed firing', '2024-01-01T02:00:00Z', '2024-01-05T10:00:00Z', '2024-01-05T02:00:00.000Z'],
  ];
  for (const [name, after, now, expect] of table) {
    it(name, () => assert.equal(dueFiring(daily, t(after), t(now))?.toISOString(), expect));
  }
});

describe('backupIdFor', () => {
  it('sorts by time and follows the remote format pattern', () => {
    const id = backupIdFor(t('2024-06-01T02:00:00.123Z'), 'a1b2c3d4');
    assert.equal(id, '20240601T020000Z-a1b2c3d4');
    assert.match(id, /^[0-9A-Za-z][0-9A-Za-z_-]{0,63}$/);
  });
  it('refuses a suffix that would break the pattern', () => {
    assert.throws(() => backupIdFor(new Date(), 'a.b'), RangeError);
  });
});
