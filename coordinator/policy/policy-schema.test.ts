import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parsePolicySettings } from './policy-schema.js';

const valid = {
  name: 'nightly',
  selection: { tags: ['prod'] },
  remotes: ['nas-1'],
  schedule: { cron: '0 2 * * *', timeZone: 'Europe/Paris' },
  retention: 7,
};

function rejects(raw: unknown, pattern: RegExp): void {
  assert.throws(() => parsePolicySettings(raw), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'INVALID_INPUT');
    assert.match(error.message, pattern);
    return true;
  });
}

describe('parsePolicySettings', () => {
  it('fills defaults: fullInterval 0, concurrency 2, enabled, empty selections', () => {
    const policy = parsePolicySettings(valid);
    assert.deepEqual(policy.selection, { vmUuids: [], tags: ['prod'], pools: [] });
    assert.equal(policy.fullInterval, 0);
    assert.equal(policy.concurrency, 2);
    assert.equal(policy.enabled, true);
    assert.equal(policy.purgeSnapshotData, true, 'snapshot data is purged unless the policy says otherwise');
  });

  it('keeps purgeSnapshotData: false', () => {
    assert.equal(parsePolicySettings({ ...valid, purgeSnapshotData: false }).purgeSnapshotData, false);
  });

  it('lower-cases VM uuids', () => {
    const policy = parsePolicySettings({ ...valid, selection: { vmUuids: ['0B2F1C9E-5A7D-4E55-9C3F-2D1B6A0E9F10'] } });
    assert.deepEqual(policy.selection.vmUuids, ['0b2f1c9e-5a7d-4e55-9c3f-2d1b6a0e9f10']);
  });

  const cases: [string, unknown, RegExp][] = [
    ['a bad name', { ...valid, name: 'Night Ly' }, /name: the policy name must be 1 to 64 characters/],
    ['no VMs', { ...valid, selection: {} }, /selection: select at least one VM/],
    ['a bad VM uuid', { ...valid, selection: { vmUuids: ['nope'] } }, /selection\.vmUuids\.0: expected a VM uuid/],
    ['no remote', { ...valid, remotes: [] }, /remotes: give at least one remote/],
    ['a remote twice', { ...valid, remotes: ['a', 'a'] }, /remotes: a remote is listed twice/],
    ['a bad cron', { ...valid, schedule: { cron: '0 2 * *', timeZone: 'UTC' } }, /schedule\.cron: invalid cron expression "0 2 \* \*"/],
    ['an hour out of range', { ...valid, schedule: { cron: '0 25 * * *' } }, /schedule\.cron: invalid cron expression.*hour/],
    ['a cron that never fires', { ...valid, schedule: { cron: '0 0 31 2 *' } }, /never fires/],
    ['an unknown time zone', { ...valid, schedule: { cron: '0 2 * * *', timeZone: 'Mars/Base' } }, /schedule\.timeZone: unknown time zone "Mars\/Base"/],
    ['retention 0', { ...valid, retention: 0 }, /retention: retention \(backups kept per VM and remote\) must be at least 1/],
    ['a fractional retention', { ...valid, retention: 1.5 }, /retention: .*whole number/],
    ['a negative full interval', { ...valid, fullInterval: -1 }, /fullInterval: the full backup interval .* must be at least 0/],
    ['concurrency 0', { ...valid, concurrency: 0 }, /concurrency: concurrency \(VMs per pool at once\) must be at least 1/],
    ['a purgeSnapshotData that is not a boolean', { ...valid, purgeSnapshotData: 'no' }, /purgeSnapshotData: purgeSnapshotData must be true or false/],
    ['an unknown field', { ...valid, colour: 'blue' }, /colour|unrecognized/i],
  ];
  for (const [what, raw, pattern] of cases) {
    it(`rejects ${what} and names the field`, () => rejects(raw, pattern));
  }

  it('reports every bad field at once', () => {
    rejects({ ...valid, retention: 0, concurrency: 0 }, /retention: .*; concurrency: /);
  });
});
