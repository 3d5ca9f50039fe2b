import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planOrphanMetadata, type MetadataVdiSummary, type OrphanScope } from './plan-orphan-metadata.js';
import type { SnapshotSummary } from './snapshot-summary.js';

function vdi(id: string, over: Partial<MetadataVdiSummary> = {}): MetadataVdiSummary {
  return { ref: `OpaqueRef:${id}`, uuid: id, type: 'cbt_metadata', isSnapshot: true, policyId: 'p1', diskKey: 'disk-a', vbdCount: 0, ...over };
}

function snapshotHolding(...refs: string[]): SnapshotSummary {
  return { ref: 'OpaqueRef:snap', uuid: 'snap', nameLabel: '[deltachain p1] web', snapshotTime: '20240420T12:00:00Z', otherConfig: {}, vdis: refs.map((ref) => ({ ref, uuid: ref, diskKey: 'disk-a' })) };
}

const scope = (over: Partial<OrphanScope> = {}): OrphanScope => ({ policyId: 'p1', diskKeys: new Set(['disk-a', 'disk-b']), keepUuids: new Set(), ...over });
const planned = (vdis: MetadataVdiSummary[], snapshots: SnapshotSummary[], s: OrphanScope) => planOrphanMetadata(vdis, snapshots, s).map((i) => i.vdi.uuid);

describe('planOrphanMetadata', () => {
  const vdis = [
    vdi('orphan-a'),
    vdi('orphan-b', { diskKey: 'disk-b' }),
    vdi('other-disk', { diskKey: 'disk-z' }),
    vdi('other-policy', { policyId: 'p2' }),
    vdi('untagged-policy', { policyId: undefined }),
    vdi('untagged-disk', { diskKey: undefined }),
    vdi('with-data', { type: 'user' }),
    vdi('not-a-snapshot', { isSnapshot: false }),
    vdi('attached', { vbdCount: 1 }),
    vdi('in-reference'),
    vdi('asked-base'),
  ];
  const reference = snapshotHolding('OpaqueRef:in-reference');

  const cases: [string, OrphanScope, string[]][] = [
    ['only metadata VDIs of the policy and the disks in scope, held by no snapshot, VBD or request', scope({ keepUuids: new Set(['asked-base']) }), ['orphan-a', 'orphan-b']],
    ['one disk named: only its orphans', scope({ diskKeys: new Set(['disk-b']) }), ['orphan-b']],
    ['no disk named: every disk of the policy', scope({ diskKeys: undefined, keepUuids: new Set(['asked-base']) }), ['orphan-a', 'orphan-b', 'other-disk']],
    ['a base the coordinator still asks for is no orphan; without the request it is', scope(), ['orphan-a', 'orphan-b', 'asked-base']],
    ['another policy', scope({ policyId: 'p2' }), ['other-policy']],
  ];
  for (const [what, s, expected] of cases) {
    it(what, () => assert.deepEqual(planned(vdis, [reference], s), expected));
  }

  it('a VDI of a snapshot we read stays even if its VBD list is empty', () => {
    assert.deepEqual(planned([vdi('in-reference')], [reference], scope()), []);
    assert.deepEqual(planned([vdi('in-reference')], [], scope()), ['in-reference']);
  });

  it('says which disk an orphan belonged to', () => {
    assert.match(planOrphanMetadata([vdi('orphan-a')], [], scope())[0]!.reason, /CBT metadata of disk disk-a whose snapshot is gone/);
  });
});
