import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resolveRestore, type RestoreCandidate } from './resolve-restore.js';

const VM = '0b2f1c9e-5a7d-4e55-9c3f-2d1b6a0e9f10';
const day = (d: number, h = 0) => new Date(Date.UTC(2024, 0, d, h));
const backups: RestoreCandidate[] = [
  { id: 'a1', vmUuid: VM, remote: 'a', takenAt: day(1), status: 'committed' },
  { id: 'a2', vmUuid: VM, remote: 'a', takenAt: day(2), status: 'committed' },
  { id: 'a3', vmUuid: VM, remote: 'a', takenAt: day(3), status: 'deleted' },
  { id: 'b2', vmUuid: VM, remote: 'b', takenAt: day(2), status: 'committed' },
  { id: 'b4', vmUuid: VM, remote: 'b', takenAt: day(4), status: 'committed' },
  { id: 'x9', vmUuid: 'ffffffff-5a7d-4e55-9c3f-2d1b6a0e9f10', remote: 'a', takenAt: day(9), status: 'committed' },
];

describe('resolveRestore', () => {
  const table: [string, string | undefined, Date, string | RegExp][] = [
    ['the newest at or before the date on that remote', 'a', day(2, 12), 'a2'],
    ['exactly at the date', 'a', day(2), 'a2'],
    ['skips deleted backups', 'a', day(3, 5), 'a2'],
    ['on any remote, the newest wins', undefined, day(5), 'b4'],
    ['on any remote, equal times go to the first remote by name', undefined, day(2, 1), 'a2'],
    ['before the first backup: says which is the earliest', 'b', day(1), /earliest is 2024-01-02T00:00:00.000Z \(b2\)/],
    ['a remote without that VM', 'c', day(5), /no backup of VM .* on remote c/],
  ];
  for (const [name, remote, at, expect] of table) {
    it(name, () => {
      const result = resolveRestore(backups, VM, remote, at);
      if (typeof expect === 'string') {
        assert.ok(result.ok, result.ok ? '' : result.reason);
        assert.equal(result.backup.id, expect);
      } else {
        assert.equal(result.ok, false);
        if (!result.ok) assert.match(result.reason, expect);
      }
    });
  }

  it('two backups of one remote in the same second: the later listed (committed later) wins', () => {
    const same = new Date('2026-12-04T18:06:10Z');
    const pair = [
      { id: '20261204T180609Z-b7fff82b', vmUuid: VM, remote: 'nas', takenAt: same, status: 'committed' as const },
      { id: '20261204T180610Z-0b996bfd', vmUuid: VM, remote: 'nas', takenAt: same, status: 'committed' as const },
    ];
    const result = resolveRestore(pair, VM, 'nas', new Date(same.getTime() + 500));
    assert.ok(result.ok);
    assert.equal(result.backup.id, '20261204T180610Z-0b996bfd');
  });
});
