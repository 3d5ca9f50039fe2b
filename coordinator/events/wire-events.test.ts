import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Task, TaskKind } from '../../shared/proto/gen/deltachain/tasks/v1/task.js';
import { AgentRole, Event, TaskStatus } from '../../shared/proto/gen/deltachain/tasks/v1/event.js';
import { BackupResult } from '../../shared/proto/gen/deltachain/tasks/v1/host_tasks.js';
import type { TaskRecord } from '../catalogue/index.js';
import { encodeTask } from '../dispatch/task-envelope.js';
import { decodeAgentEvent } from './wire-events.js';

const HOST = { sender: { role: 'host', scope: 'lab', agent: 'host-1' }, kind: 'result', at: new Date(1_000_000) } as const;
const STORAGE = { ...HOST, sender: { role: 'storage', scope: 'nas', agent: 'storage-nas' } } as const;
const TASK_ID = '0b2f1c9e-5a7d-4e55-9c3f-2d1b6a0e9f10';

describe('decodeAgentEvent', () => {
  it('turns a result into the coordinator’s terms', () => {
    const data = Event.encode({
      eventId: 'e', taskId: TASK_ID.toUpperCase(), agentId: 'host-1', emittedAtMs: 7,
      body: { $case: 'result', value: { status: TaskStatus.TASK_STATUS_SUCCEEDED, durationMs: 3, output: { $case: 'backup', value: BackupResult.create({ backupId: 'b', snapshotUuid: 's', bytesSent: 9 }) } } },
    }).finish();
    const event = decodeAgentEvent(data, HOST);
    assert.equal(event.type, 'result');
    assert.deepEqual(event.sender, HOST.sender);
    assert.deepEqual(event.at, HOST.at, 'the time is the stream\'s, not emitted_at_ms');
    if (event.type !== 'result' || !event.ok) return;
    assert.equal(event.taskId, TASK_ID);
    assert.deepEqual(event.output, { kind: 'backup', backupId: 'b', snapshotUuid: 's', bytesSent: 9, reads: [] });
  });

  it('keeps how each disk was read, its text bounded', () => {
    const disk = { diskKey: 'd', snapshotVdiUuid: 's', mode: 'delta', baseVdiUuid: 'b', fullReason: '', detail: '', virtualSize: 1, blocks: 1, bytesSent: 5, durationMs: 1 };
    const report = { disks: [{ ...disk, readMethod: 'vhd-export', fallbackReason: 'nbd-unavailable', fallbackDetail: 'x'.repeat(10_000) }], skippedDisks: [], removedSnapshots: [], redelivered: false, warnings: [], snapshotTimeMs: 0 };
    const data = Event.encode({
      eventId: 'e', taskId: TASK_ID, agentId: 'host-1', emittedAtMs: 7,
      body: { $case: 'result', value: { status: TaskStatus.TASK_STATUS_SUCCEEDED, durationMs: 3, output: { $case: 'backup', value: BackupResult.create({ backupId: 'b', snapshotUuid: 's', bytesSent: 5, report }) } } },
    }).finish();
    const event = decodeAgentEvent(data, HOST);
    if (event.type !== 'result' || !event.ok || event.output?.kind !== 'backup') return assert.fail('a backup result');
    const [read] = event.output.reads!;
    assert.equal(read!.readMethod, 'vhd-export');
    assert.equal(read!.fallbackReason, 'nbd-unavailable');
    assert.equal(read!.fallbackDetail.length, 500);
  });

  it('a failure without details still names a cause', () => {
    const data = Event.encode({ eventId: 'e', taskId: TASK_ID, agentId: 'a', emittedAtMs: 7, body: { $case: 'result', value: { status: TaskStatus.TASK_STATUS_FAILED, durationMs: 0 } } }).finish();
    const event = decodeAgentEvent(data, HOST);
    assert.ok(event.type === 'result' && !event.ok && event.error.code === 'AGENT_FAILED');
  });

  it('refuses garbage and events without a body, naming them', () => {
    assert.throws(() => decodeAgentEvent(Buffer.from([0xff, 0xff, 0xff]), HOST), /from host agent host-1 of pool lab is not a valid deltachain\.tasks\.v1\.Event/);
    assert.throws(() => decodeAgentEvent(Event.encode({ eventId: 'x1', taskId: '', agentId: 'a', emittedAtMs: 0 }).finish(), HOST), /event x1 from host agent host-1 of pool lab has no body/);
  });

  it('a release task carries the policy, the VMs and the remotes kept; its result the snapshots destroyed', () => {
    const task = {
      id: TASK_ID, runId: null, vmUuid: null, attempt: 2, createdAt: new Date(1000), deadlineAt: new Date(5000),
      kind: 'release',
      addressKind: 'pool',
      address: 'lab',
      remoteName: null,
      payload: { policyId: 'p', policyName: 'nightly', reason: 'remote-dropped', vmUuids: ['11111111-1111-4111-8111-111111111111'], keepRemotes: ['offsite'] },
    } as unknown as TaskRecord;
    const decoded = Task.decode(encodeTask(task));
    assert.equal(decoded.kind, TaskKind.TASK_KIND_RELEASE_REFERENCES);
    assert.deepEqual(decoded.payload, { $case: 'releaseReferences', value: { policyId: 'p', vmUuids: ['11111111-1111-4111-8111-111111111111'], keepRemoteIds: ['offsite'] } });
    const event = Event.encode({
      eventId: 'e', agentId: 'host-lab', emittedAtMs: 1, taskId: task.id,
      body: { $case: 'result', value: { status: TaskStatus.TASK_STATUS_SUCCEEDED, durationMs: 3, output: { $case: 'releaseReferences', value: { destroyedSnapshotUuids: ['s1'], destroyedOrphanVdiUuids: ['v1'] } } } },
    }).finish();
    const received = decodeAgentEvent(event, HOST);
    assert.deepEqual(received.type === 'result' && received.ok ? received.output : undefined, { kind: 'release', destroyedSnapshotUuids: ['s1'], destroyedOrphanVdiUuids: ['v1'] });
  });

  it('a merge result carries the merged files’ sizes (a size of 0, from an older agent, is no size)', () => {
    const disks = [
      { diskKey: 'xvda', path: 'vms/v/disks/xvda/b2.vhd', blocksMerged: 3, resumed: false, merged: true, fileSize: 6_291_968 },
      { diskKey: 'xvdb', path: 'vms/v/disks/xvdb/b2.vhd', blocksMerged: 0, resumed: false, merged: true, fileSize: 0 },
    ];
    const event = Event.encode({
      eventId: 'e', agentId: 'storage-nas', emittedAtMs: 1, taskId: TASK_ID,
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
