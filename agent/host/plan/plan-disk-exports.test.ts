import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { basesToConfirm, fallBackToFull, planDiskExports, type DiskRequest, type PoolBases } from './plan-disk-exports.js';

const pool: PoolBases = new Map([
  ['base-a', { ref: 'OpaqueRef:base-a', diskKey: 'disk-a' }],
  ['base-b', { ref: 'OpaqueRef:base-b', diskKey: 'disk-b' }],
  ['base-untagged', { ref: 'OpaqueRef:base-u', diskKey: undefined }],
]);

describe('planDiskExports', () => {
  const cases: Array<{
    name: string;
    request: DiskRequest;
    missing?: Array<[string, string[]]>;
    mode: 'full' | 'delta';
    reason?: string;
    detailMentions?: string;
  }> = [
    { name: 'full asked', request: { diskKey: 'disk-a', requestedBase: undefined }, mode: 'full', reason: 'requested' },
    { name: 'delta on a base the remote holds', request: { diskKey: 'disk-a', requestedBase: 'base-a' }, mode: 'delta' },
    { name: 'base without a disk tag still works', request: { diskKey: 'disk-z', requestedBase: 'base-untagged' }, mode: 'delta' },
    {
      name: 'reference deleted by an admin',
      request: { diskKey: 'disk-a', requestedBase: 'gone' },
      mode: 'full',
      reason: 'reference-gone',
      detailMentions: 'gone from the pool',
    },
    {
      name: 'base of another disk',
      request: { diskKey: 'disk-a', requestedBase: 'base-b' },
      mode: 'full',
      reason: 'base-of-another-disk',
    },
    {
      name: 'a remote lacks the base',
      request: { diskKey: 'disk-a', requestedBase: 'base-a' },
      missing: [['base-a', ['remote-2']]],
      mode: 'full',
      reason: 'remote-lacks-base',
      detailMentions: 'remote-2',
    },
    {
      name: 'no remote lacks the base (empty list)',
      request: { diskKey: 'disk-a', requestedBase: 'base-a' },
      missing: [['base-a', []]],
      mode: 'delta',
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const [plan] = planDiskExports([c.request], pool, new Map(c.missing ?? []));
      assert.equal(plan!.mode, c.mode);
      assert.equal(plan!.fullReason, c.reason);
      if (c.mode === 'delta') assert.equal(plan!.base?.ref, pool.get(c.request.requestedBase!)!.ref);
      if (c.detailMentions !== undefined) assert.match(plan!.detail ?? '', new RegExp(c.detailMentions));
    });
  }

  it('asks the remotes only about bases present on the pool for the right disk', () => {
    const requests: DiskRequest[] = [
      { diskKey: 'disk-a', requestedBase: 'base-a' },
      { diskKey: 'disk-b', requestedBase: 'base-a' },
      { diskKey: 'disk-c', requestedBase: 'gone' },
      { diskKey: 'disk-d', requestedBase: undefined },
    ];
    assert.deepEqual(basesToConfirm(requests, pool), ['base-a']);
  });

  it('falls back to a full with the XAPI error when the delta cannot be computed', () => {
    const [plan] = planDiskExports([{ diskKey: 'disk-a', requestedBase: 'base-a' }], pool, new Map());
    const fallback = fallBackToFull(plan!, 'VDI_NOT_IN_MAP(x)');
    assert.equal(fallback.mode, 'full');
    assert.equal(fallback.fullReason, 'delta-export-failed');
    assert.equal(fallback.base, undefined);
    assert.match(fallback.detail!, /VDI_NOT_IN_MAP/);
  });
});
