import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planRelease, remotesKept, type ReleaseScope } from './plan-release.js';
import type { SnapshotSummary } from './snapshot-summary.js';
import { snapshotTags, TAG } from './snapshot-tags.js';

function snap(id: string, tags: { policy?: string; vm?: string; remotes?: string; exported?: boolean } | 'untagged'): SnapshotSummary {
  const otherConfig = tags === 'untagged'
    ? {}
    : {
        ...snapshotTags({ policyId: tags.policy ?? 'p1', vmUuid: tags.vm ?? 'vm-1', datetime: '2024-04-20T12:00:00.000Z', chainLength: 0, taskId: `t-${id}`, backupIds: [`b-${id}`], remotes: tags.remotes ?? 'nas' }),
        ...(tags.exported === false ? {} : { [TAG.exported]: 'true' }),
      };
  return { ref: `OpaqueRef:${id}`, uuid: id, nameLabel: `[deltachain p1] web`, snapshotTime: '20240420T12:00:00Z', otherConfig, vdis: [] };
}

const scope = (over: Partial<ReleaseScope>): ReleaseScope => ({ policyId: 'p1', vmUuids: undefined, keepRemotes: new Set(), ...over });
const planned = (snapshots: SnapshotSummary[], s: ReleaseScope) => planRelease(snapshots, s).map((i) => i.snapshot.uuid);

describe('planRelease', () => {
  const snapshots = [
    snap('nas-ref', { remotes: 'nas' }),
    snap('offsite-ref', { remotes: 'offsite' }),
    snap('both-ref', { remotes: 'nas,offsite' }),
    snap('unexported', { remotes: 'nas', exported: false }),
    snap('other-vm', { vm: 'vm-2', remotes: 'nas' }),
    snap('other-policy', { policy: 'p2', remotes: 'nas' }),
    snap('no-remotes-tag', { remotes: '' }),
    snap('user', 'untagged'),
  ];

  it('a dropped remote: its references go; those of kept remotes stay, a shared one too (its other remote still needs it)', () => {
    assert.deepEqual(planned(snapshots, scope({ vmUuids: new Set(['vm-1']), keepRemotes: new Set(['offsite']) })), ['nas-ref', 'unexported', 'no-remotes-tag']);
  });
  it('every remote kept: only what has no remote goes', () => {
    assert.deepEqual(planned(snapshots, scope({ vmUuids: new Set(['vm-1']), keepRemotes: new Set(['nas', 'offsite']) })), ['no-remotes-tag']);
  });
  it('a VM that left: every reference of that VM of this policy goes, nothing else', () => {
    assert.deepEqual(planned(snapshots, scope({ vmUuids: new Set(['vm-2']) })), ['other-vm']);
  });
  it('a deleted policy: every reference of it on the pool, never another policy’s or the user’s', () => {
    assert.deepEqual(planned(snapshots, scope({})), ['nas-ref', 'offsite-ref', 'both-ref', 'unexported', 'other-vm', 'no-remotes-tag']);
  });
  it('remotesKept', () => {
    assert.equal(remotesKept('nas', new Set(['nas'])), true);
    assert.equal(remotesKept('nas,offsite', new Set(['nas'])), true);
    assert.equal(remotesKept('nas,offsite', new Set(['c'])), false);
    assert.equal(remotesKept('', new Set(['nas'])), false);
  });
});
