import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { planPolicyDeletedReleases, planReleases, withoutSeedsInUse, type HeldReference, type ReleasePlan } from './plan-releases.js';
import type { ReferenceView } from './plan-backup.js';

const ref = (vmUuid: string, remote: string, pool = 'lab'): HeldReference => ({ vmUuid, remote, pool });

describe('planReleases', () => {
  const table: { name: string; remotes: string[]; selected: string[]; refs: HeldReference[]; expect: ReleasePlan[] }[] = [
    { name: 'nothing to release when every reference is in use', remotes: ['nas'], selected: ['a', 'b'], refs: [ref('a', 'nas'), ref('b', 'nas')], expect: [] },
    {
      name: 'a dropped remote: its references go, the current remotes are kept',
      remotes: ['offsite'],
      selected: ['a', 'b'],
      refs: [ref('b', 'nas'), ref('a', 'nas'), ref('a', 'offsite')],
      expect: [{ pool: 'lab', reason: 'remote-dropped', vmUuids: ['a', 'b'], keepRemotes: ['offsite'] }],
    },
    {
      name: 'a VM that left: every reference of it goes, whatever the remote',
      remotes: ['nas', 'offsite'],
      selected: ['a'],
      refs: [ref('a', 'nas'), ref('b', 'nas'), ref('b', 'offsite')],
      expect: [{ pool: 'lab', reason: 'left-policy', vmUuids: ['b'], keepRemotes: [] }],
    },
    {
      name: 'one release per pool and reason',
      remotes: ['offsite', 'b2'],
      selected: ['a', 'c'],
      refs: [ref('a', 'nas'), ref('b', 'nas'), ref('c', 'nas', 'other'), ref('c', 'offsite', 'other')],
      expect: [
        { pool: 'lab', reason: 'left-policy', vmUuids: ['b'], keepRemotes: [] },
        { pool: 'lab', reason: 'remote-dropped', vmUuids: ['a'], keepRemotes: ['b2', 'offsite'] },
        { pool: 'other', reason: 'remote-dropped', vmUuids: ['c'], keepRemotes: ['b2', 'offsite'] },
      ],
    },
  ];
  for (const row of table) {
    it(row.name, () => {
      assert.deepEqual(planReleases({ remotes: row.remotes, selected: new Set(row.selected), references: row.refs }), row.expect);
    });
  }

  it('a deleted policy: one release per pool, every VM, no remote kept', () => {
    assert.deepEqual(planPolicyDeletedReleases(['b', 'a', 'b']), [
      { pool: 'a', reason: 'policy-deleted', vmUuids: [], keepRemotes: [] },
      { pool: 'b', reason: 'policy-deleted', vmUuids: [], keepRemotes: [] },
    ]);
  });
});

describe('withoutSeedsInUse', () => {
  const view = (remote: string, vdi: string): ReferenceView => ({ remote, snapshotUuid: `s-${remote}`, vdis: { xvda: vdi }, gone: false });
  const references: Record<string, ReferenceView[]> = {
    // Retargeted nas → offsite; offsite's chain was seeded from a copy of nas: nas's reference is the seed.
    seeding: [view('nas', 'v1')],
    // The seed has served: offsite has its own reference now.
    seeded: [view('nas', 'v1'), view('offsite', 'v2')],
    // offsite has no chain here: nas's reference seeds nothing.
    fresh: [view('nas', 'v3')],
  };
  const chains: Record<string, Record<string, { footerUuid: string; position: number }>> = {
    'seeding@offsite': { xvda: { footerUuid: 'v1', position: 4 } },
    'seeded@offsite': { xvda: { footerUuid: 'v2', position: 5 } },
  };

  it('holds back a VM whose dropped reference seeds a kept remote, until that remote has its own', () => {
    const split = withoutSeedsInUse({
      vmUuids: ['seeding', 'seeded', 'fresh'],
      keepRemotes: ['offsite'],
      references: (vm) => references[vm] ?? [],
      chains: (vm, remote) => chains[`${vm}@${remote}`] ?? {},
    });
    assert.deepEqual(split, { release: ['seeded', 'fresh'], heldAsSeed: ['seeding'] });
  });

  it('holds nothing back when no remote is kept', () => {
    const split = withoutSeedsInUse({ vmUuids: ['seeding'], keepRemotes: [], references: (vm) => references[vm] ?? [], chains: () => ({}) });
    assert.deepEqual(split, { release: ['seeding'], heldAsSeed: [] });
  });
});
