import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BackupTask, RestoreTask } from '../../../shared/proto/gen/deltachain/tasks/v1/host_tasks.js';
import { backupRequestFrom, restoreRequestFrom } from './translate-task.js';
import type { RemoteStorages } from './remote-storages.js';

const storage = { remoteId: 'nas', withGrant: () => storage };
const storages = { get: () => storage } as unknown as RemoteStorages;
const task = (expectedChainDigests: Record<string, Uint8Array>): RestoreTask => ({
  vmUuid: '11111111-1111-4111-8111-111111111111', backupId: 'b1', remoteId: 'nas', storageAddress: '127.0.0.1:7000',
  srUuid: '22222222-2222-4222-8222-222222222222', expectedChainDigests,
});

describe('restoreRequestFrom', () => {
  it('carries the expected chain digests by disk', () => {
    const digest = Buffer.alloc(32, 7);
    const request = restoreRequestFrom('t1', task({ xvda: digest }), storages);
    assert.deepEqual([...request.expectedChainDigests!.entries()], [['xvda', digest]]);
    assert.equal(request.keepBootConfig, false, 'boot config dropped unless the task says keep_boot_config');
    assert.equal(restoreRequestFrom('t1', { ...task({}), keepBootConfig: true }, storages).keepBootConfig, true);
  });
  it('refuses a digest that is not 32 bytes, naming the disk', () => {
    assert.throws(() => restoreRequestFrom('t1', task({ xvdb: Buffer.alloc(31) }), storages), /task t1: the expected chain digest of disk "xvdb" has 31 bytes, not 32/);
  });
});

describe('backupRequestFrom', () => {
  const more = (remoteId: string, over: object = {}) => ({
    taskId: '33333333-3333-4333-8333-333333333333', attempt: 2, backupId: 'b2', remoteId, storageAddress: '127.0.0.1:7001', baseSnapshotVdiByDisk: { xvda: '44444444-4444-4444-8444-444444444444' }, ...over,
  });
  const backup = (over: Partial<BackupTask> = {}): BackupTask => ({
    vmUuid: '11111111-1111-4111-8111-111111111111', backupId: 'b1', remoteId: 'nas', storageAddress: '127.0.0.1:7000', baseSnapshotVdiByDisk: {},
    policyJson: JSON.stringify({ id: 'p' }), moreTargets: [], policyRemoteIds: [], ...over,
  });

  it('each other remote of the message becomes a target with its task, attempt and bases; the policy remotes come along', () => {
    const request = backupRequestFrom('t1', backup({ moreTargets: [more('offsite')], policyRemoteIds: ['nas', 'offsite'] }), storages);
    assert.deepEqual(request.targets.map((t) => [t.remoteId, t.backupId, t.taskId, t.attempt, [...(t.bases ?? [])]]), [
      ['nas', 'b1', undefined, undefined, []],
      ['offsite', 'b2', '33333333-3333-4333-8333-333333333333', 2, [['xvda', '44444444-4444-4444-8444-444444444444']]],
    ]);
    assert.deepEqual(request.policyRemotes, ['nas', 'offsite']);
    assert.equal(backupRequestFrom('t1', backup(), storages).policyRemotes, undefined, 'none from an older coordinator');
  });
  it('refuses a remote named twice, a bad task id, a bad base, naming what is wrong', () => {
    assert.throws(() => backupRequestFrom('t1', backup({ moreTargets: [more('nas')] }), storages), /task t1: more_targets: remote "nas" is named twice/);
    assert.throws(() => backupRequestFrom('t1', backup({ moreTargets: [more('offsite', { taskId: 'x' })] }), storages), /more_targets: task id "x" is not a lowercase uuid/);
    assert.throws(() => backupRequestFrom('t1', backup({ moreTargets: [more('offsite', { baseSnapshotVdiByDisk: { xvda: 'nope' } })] }), storages), /the base of disk xvda \("nope"\) is not a uuid/);
    assert.throws(() => backupRequestFrom('t1', backup({ policyRemoteIds: ['Bad Remote'] }), storages), /policy_remote_ids: "Bad Remote" is not a remote id/);
  });
});
