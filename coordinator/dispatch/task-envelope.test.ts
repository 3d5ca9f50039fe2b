import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Task, TaskKind } from '../../shared/proto/gen/deltachain/tasks/v1/task.js';
import { AgentRole, Event, TaskStatus } from '../../shared/proto/gen/deltachain/tasks/v1/event.js';
import { BackupResult } from '../../shared/proto/gen/deltachain/tasks/v1/host_tasks.js';
import type { TaskRecord } from '../catalogue/index.js';
import { encodeTask, messageIdOf } from './task-envelope.js';
import { decodeAgentEvent } from '../events/wire-events.js';
import { Grant, GrantAction } from '../../shared/grants/index.js';
import { generateSigningKeyPair, signerFromPem } from '../../shared/signing/index.js';

const HOST = { sender: { role: 'host', scope: 'lab', agent: 'host-1' }, kind: 'result', at: new Date(1_000_000) } as const;
const STORAGE = { ...HOST, sender: { role: 'storage', scope: 'nas', agent: 'storage-nas' } } as const;

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

  it('a merge goes to the remote with the child backup', () => {
    const task = { ...base, kind: 'merge', addressKind: 'remote', address: 'nas', remoteName: 'nas', payload: { backupId: 'b2', retires: ['b1'], policyId: 'p' } } as TaskRecord;
    const decoded = Task.decode(encodeTask(task));
    assert.deepEqual(decoded.target?.agent, { $case: 'remoteId', value: 'nas' });
    assert.deepEqual(decoded.payload, { $case: 'merge', value: { vmUuid: base.vmUuid, backupId: 'b2' } });
  });
});

describe('decodeAgentEvent', () => {
  it('turns a result into the coordinator’s terms', () => {
    const data = Event.encode({
      eventId: 'e', taskId: base.id.toUpperCase(), agentId: 'host-1', emittedAtMs: 7,
      body: { $case: 'result', value: { status: TaskStatus.TASK_STATUS_SUCCEEDED, durationMs: 3, output: { $case: 'backup', value: BackupResult.create({ backupId: 'b', snapshotUuid: 's', bytesSent: 9 }) } } },
    }).finish();
    const event = decodeAgentEvent(data, HOST);
    assert.equal(event.type, 'result');
    assert.deepEqual(event.sender, HOST.sender);
    assert.deepEqual(event.at, HOST.at, 'the time is the stream\'s, not emitted_at_ms');
    if (event.type !== 'result' || !event.ok) return;
    assert.equal(event.taskId, base.id);
    assert.deepEqual(event.output, { kind: 'backup', backupId: 'b', snapshotUuid: 's', bytesSent: 9 });
  });

  it('a failure without details still names a cause', () => {
    const data = Event.encode({ eventId: 'e', taskId: base.id, agentId: 'a', emittedAtMs: 7, body: { $case: 'result', value: { status: TaskStatus.TASK_STATUS_FAILED, durationMs: 0 } } }).finish();
    const event = decodeAgentEvent(data, HOST);
    assert.ok(event.type === 'result' && !event.ok && event.error.code === 'AGENT_FAILED');
  });

  it('refuses garbage and events without a body, naming them', () => {
    assert.throws(() => decodeAgentEvent(Buffer.from([0xff, 0xff, 0xff]), HOST), /from host agent host-1 of pool lab is not a valid deltachain\.tasks\.v1\.Event/);
    assert.throws(() => decodeAgentEvent(Event.encode({ eventId: 'x1', taskId: '', agentId: 'a', emittedAtMs: 0 }).finish(), HOST), /event x1 from host agent host-1 of pool lab has no body/);
  });

  it('a release task carries the policy, the VMs and the remotes kept; its result the snapshots destroyed', () => {
    const task = {
      ...base,
      vmUuid: null,
      kind: 'release',
      addressKind: 'pool',
      address: 'lab',
      remoteName: null,
      payload: { policyId: 'p', policyName: 'nightly', reason: 'remote-dropped', vmUuids: ['11111111-1111-4111-8111-111111111111'], keepRemotes: ['offsite'] },
    } as TaskRecord;
    const decoded = Task.decode(encodeTask(task));
    assert.equal(decoded.kind, TaskKind.TASK_KIND_RELEASE_REFERENCES);
    assert.deepEqual(decoded.payload, { $case: 'releaseReferences', value: { policyId: 'p', vmUuids: ['11111111-1111-4111-8111-111111111111'], keepRemoteIds: ['offsite'] } });
    const event = Event.encode({
      eventId: 'e', agentId: 'host-lab', emittedAtMs: 1, taskId: task.id,
      body: { $case: 'result', value: { status: TaskStatus.TASK_STATUS_SUCCEEDED, durationMs: 3, output: { $case: 'releaseReferences', value: { destroyedSnapshotUuids: ['s1'] } } } },
    }).finish();
    const received = decodeAgentEvent(event, HOST);
    assert.deepEqual(received.type === 'result' && received.ok ? received.output : undefined, { kind: 'release', destroyedSnapshotUuids: ['s1'] });
  });

  it('a merge result carries the merged files’ sizes (a size of 0, from an older agent, is no size)', () => {
    const disks = [
      { diskKey: 'xvda', path: 'vms/v/disks/xvda/b2.vhd', blocksMerged: 3, resumed: false, merged: true, fileSize: 6_291_968 },
      { diskKey: 'xvdb', path: 'vms/v/disks/xvdb/b2.vhd', blocksMerged: 0, resumed: false, merged: true, fileSize: 0 },
    ];
    const event = Event.encode({
      eventId: 'e', agentId: 'storage-nas', emittedAtMs: 1, taskId: base.id,
      body: { $case: 'result', value: { status: TaskStatus.TASK_STATUS_SUCCEEDED, durationMs: 3, output: { $case: 'merge', value: { disks, retiredBackupIds: ['b1'] } } } },
    }).finish();
    const received = decodeAgentEvent(event, STORAGE);
    const output = received.type === 'result' && received.ok ? received.output : undefined;
    assert.deepEqual(output?.kind === 'merge' ? output.diskSizes : undefined, [{ diskKey: 'xvda', sizeBytes: 6_291_968 }]);
  });

  it('takes the sender from the subject: a heartbeat or inventory claiming another pool, role or kind is refused', () => {
    const heartbeat = (targetId: string, role: AgentRole) =>
      Event.encode({ eventId: 'h', taskId: '', agentId: 'storage-nas', emittedAtMs: 4_102_444_800_000, body: { $case: 'heartbeat', value: { role, targetId, runningTasks: 0, concurrency: 1, version: 'x', startedAtMs: 0, address: '127.0.0.1:50999' } } }).finish();
    const beat = decodeAgentEvent(heartbeat('lab', AgentRole.AGENT_ROLE_HOST), { ...HOST, kind: 'heartbeat' });
    assert.ok(beat.type === 'heartbeat');
    assert.deepEqual({ id: beat.heartbeat.id, role: beat.heartbeat.role, target: beat.heartbeat.target, at: beat.heartbeat.at, address: beat.heartbeat.address }, { id: 'host-1', role: 'host', target: 'lab', at: HOST.at, address: '' });
    assert.throws(() => decodeAgentEvent(heartbeat('other', AgentRole.AGENT_ROLE_HOST), { ...HOST, kind: 'heartbeat' }), /claims to serve "other"; ignored/);
    assert.throws(() => decodeAgentEvent(heartbeat('lab', AgentRole.AGENT_ROLE_STORAGE), { ...HOST, kind: 'heartbeat' }), /claims role/);
    assert.throws(() => decodeAgentEvent(heartbeat('lab', AgentRole.AGENT_ROLE_HOST), HOST), /a heartbeat published as result; ignored/);
    const inventory = (poolName: string) => Event.encode({ eventId: 'i', taskId: '', agentId: 'host-1', emittedAtMs: 0, body: { $case: 'inventory', value: { poolName, poolUuid: '', vms: [] } } }).finish();
    assert.equal(decodeAgentEvent(inventory('lab'), { ...HOST, kind: 'inventory' }).type, 'inventory');
    assert.throws(() => decodeAgentEvent(inventory('prod'), { ...HOST, kind: 'inventory' }), /names pool "prod", not its own/);
    assert.throws(() => decodeAgentEvent(inventory('nas'), { ...STORAGE, kind: 'inventory' }), /only host agents report inventory/);
  });
});
