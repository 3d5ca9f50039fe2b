import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Task, TaskKind } from '../../shared/proto/gen/deltachain/tasks/v1/task.js';
import type { TaskRecord } from '../catalogue/index.js';
import { encodeTask, messageIdOf } from './task-envelope.js';
import { Grant, GrantAction } from '../../shared/grants/index.js';
import { generateSigningKeyPair, signerFromPem } from '../../shared/signing/index.js';

const base = {
  id: '0b2f1c9e-5a7d-4e55-9c3f-2d1b6a0e9f10',
  runId: null,
  vmUuid: '11111111-1111-4111-8111-111111111111',
  attempt: 2,
  createdAt: new Date(1000),
  deadlineAt: new Date(5000),
} as unknown as TaskRecord;

describe('task envelopes', () => {
  it('a backup task carries the plan bases, the storage address and the policy', () => {
    const task = {
      ...base,
      kind: 'backup',
      addressKind: 'pool',
      address: 'lab',
      remoteName: 'nas',
      payload: {
        policyId: 'p', policyName: 'nightly', retention: 3, backupId: '20240601T020000Z-ab', vmName: 'web', forceFull: false,
        storageAddress: '10.0.0.5:50051',
        plan: { xvda: { mode: 'delta', reason: 'x', baseVdiUuid: 'base-a' }, xvdb: { mode: 'full', reason: 'y' } },
      },
    } as TaskRecord;
    const decoded = Task.decode(encodeTask(task));
    assert.equal(decoded.kind, TaskKind.TASK_KIND_BACKUP);
    assert.deepEqual(decoded.target?.agent, { $case: 'poolId', value: 'lab' });
    assert.equal(decoded.attempt, 2);
    assert.equal(decoded.deadlineMs, 5000);
    assert.equal(decoded.payload?.$case, 'backup');
    if (decoded.payload?.$case !== 'backup') return;
    assert.deepEqual(decoded.payload.value.baseSnapshotVdiByDisk, { xvda: 'base-a' });
    assert.equal(decoded.payload.value.storageAddress, '10.0.0.5:50051');
    assert.deepEqual(JSON.parse(decoded.payload.value.policyJson), { id: 'p', name: 'nightly', retention: 3, remote: 'nas' });
    assert.equal(messageIdOf(task), `${base.id}.2`);
    assert.equal(decoded.payload.value.purgeSnapshotData, true, 'a payload from before the option: purge, the default');
    const kept = Task.decode(encodeTask({ ...task, payload: { ...(task.payload as object), purgeSnapshotData: false } } as TaskRecord));
    assert.equal(kept.payload?.$case === 'backup' && kept.payload.value.purgeSnapshotData, false, "the policy's purgeSnapshotData: false reaches the host agent");
  });

  it('backup and restore tasks carry the grant for their storage calls, signed, held by the pool’s host agents, until the deadline', () => {
    const signer = signerFromPem(generateSigningKeyPair().privatePem, 'test');
    const backup = { ...base, kind: 'backup', addressKind: 'pool', address: 'lab', remoteName: 'nas', payload: { policyId: 'p', policyName: 'n', retention: 3, backupId: 'b9', vmName: 'web', forceFull: false } } as TaskRecord;
    const restore = { ...base, kind: 'restore', addressKind: 'pool', address: 'lab2', remoteName: 'nas', payload: { backupId: 'b7', srUuid: 's', name: '', diskKeys: ['xvda', 'xvdb'] } } as TaskRecord;
    const write = Task.decode(encodeTask(backup, signer));
    assert.equal(write.payload?.$case, 'backup');
    const signedWrite = write.payload?.$case === 'backup' ? write.payload.value.writeGrant : undefined;
    assert.ok(signedWrite && signer.publicKey.verify(signedWrite.grant, signedWrite.signature));
    assert.deepEqual(Grant.decode(signedWrite.grant), { action: GrantAction.GRANT_ACTION_WRITE, remoteId: 'nas', vmUuid: base.vmUuid, backupId: 'b9', diskKeys: [], holder: 'host:lab', expiresAtMs: 5000, taskId: base.id });
    const read = Task.decode(encodeTask(restore, signer));
    const signedRead = read.payload?.$case === 'restore' ? read.payload.value.readGrant : undefined;
    assert.ok(signedRead && signer.publicKey.verify(signedRead.grant, signedRead.signature));
    assert.deepEqual(Grant.decode(signedRead.grant), { action: GrantAction.GRANT_ACTION_READ, remoteId: 'nas', vmUuid: base.vmUuid, backupId: 'b7', diskKeys: ['xvda', 'xvdb'], holder: 'host:lab2', expiresAtMs: 5000, taskId: base.id });
    assert.deepEqual(encodeTask(backup, signer), encodeTask(backup, signer), 'published again, the same bytes (JetStream drops the duplicate)');
    const unsigned = Task.decode(encodeTask(backup));
    assert.equal(unsigned.payload?.$case === 'backup' ? unsigned.payload.value.writeGrant : 'x', undefined);
    const merge = { ...base, kind: 'merge', addressKind: 'remote', address: 'nas', remoteName: 'nas', payload: { backupId: 'b2', retires: [], policyId: 'p' } } as TaskRecord;
    assert.deepEqual(Task.decode(encodeTask(merge, signer)).payload, { $case: 'merge', value: { vmUuid: base.vmUuid, backupId: 'b2' } });
  });

  it("a run's backups of one VM to several remotes: one message, each other remote with its task, attempt, bases and own grant", () => {
    const signer = signerFromPem(generateSigningKeyPair().privatePem, 'test');
    const payload = (backupId: string, remote: string, base?: string) => ({
      policyId: 'p', policyName: 'n', retention: 3, backupId, vmName: 'web', forceFull: false, storageAddress: `${remote}.example:50051`, policyRemotes: ['nas', 'offsite', 'far'],
      plan: base === undefined ? { xvda: { mode: 'full', reason: 'new remote' } } : { xvda: { mode: 'delta', reason: 'x', baseVdiUuid: base } },
    });
    const nas = { ...base, kind: 'backup', addressKind: 'pool', address: 'lab', remoteName: 'nas', payload: payload('b-nas', 'nas', 'ref-1') } as TaskRecord;
    const offsite = { ...base, id: '1c3e2daf-6b8e-4f66-8d4a-3e2c7b1f0a21', attempt: 1, kind: 'backup', addressKind: 'pool', address: 'lab', remoteName: 'offsite', payload: payload('b-off', 'offsite', 'ref-1') } as TaskRecord;
    const far = { ...base, id: '2d4f3eb0-7c9f-4a77-9e5b-4f3d8c2a1b32', attempt: 3, kind: 'backup', addressKind: 'pool', address: 'lab', remoteName: 'far', payload: payload('b-far', 'far') } as TaskRecord;
    const decoded = Task.decode(encodeTask(nas, signer, [offsite, far]));
    assert.equal(decoded.payload?.$case, 'backup');
    if (decoded.payload?.$case !== 'backup') return;
    const value = decoded.payload.value;
    assert.deepEqual(JSON.parse(value.policyJson).remotes, ['nas', 'offsite', 'far']);
    assert.deepEqual(value.policyRemoteIds, ['nas', 'offsite', 'far']);
    assert.deepEqual(value.moreTargets.map((t) => [t.taskId, t.attempt, t.remoteId, t.backupId, t.storageAddress, t.baseSnapshotVdiByDisk]), [
      [offsite.id, 1, 'offsite', 'b-off', 'offsite.example:50051', { xvda: 'ref-1' }],
      [far.id, 3, 'far', 'b-far', 'far.example:50051', {}],
    ]);
    for (const [i, t] of value.moreTargets.entries()) {
      const grant = t.writeGrant!;
      assert.ok(signer.publicKey.verify(grant.grant, grant.signature));
      const decodedGrant = Grant.decode(grant.grant);
      assert.deepEqual([decodedGrant.remoteId, decodedGrant.backupId, decodedGrant.taskId, decodedGrant.holder], [[offsite, far][i]!.remoteName, t.backupId, t.taskId, 'host:lab'], 'each remote its own grant');
    }
  });

  it('a merge goes to the remote with the child backup', () => {
    const task = { ...base, kind: 'merge', addressKind: 'remote', address: 'nas', remoteName: 'nas', payload: { backupId: 'b2', retires: ['b1'], policyId: 'p' } } as TaskRecord;
    const decoded = Task.decode(encodeTask(task));
    assert.deepEqual(decoded.target?.agent, { $case: 'remoteId', value: 'nas' });
    assert.deepEqual(decoded.payload, { $case: 'merge', value: { vmUuid: base.vmUuid, backupId: 'b2' } });
  });
});
