// The host agent's release of reference snapshots (ReleaseReferencesTask), in-process, with tasks
// pulled from the real NATS JetStream and a lab pool through the real xen-api client: a reference
// for a remote still kept stays, one for a dropped remote goes, a second release destroys nothing;
// another policy's snapshot and the user's own are never touched; a release for a VM whose backup
// is running waits for that backup (the agent's VM lock) and then destroys what it left; a purged
// reference's CBT metadata left without its snapshot VM is destroyed and reported.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startHostAgent, type RunningHostAgent } from '../agent/host/index.js';
import { TaskStatus, type TaskResult } from '../shared/proto/gen/deltachain/tasks/v1/event.js';
import type { ReleaseReferencesTask } from '../shared/proto/gen/deltachain/tasks/v1/host_tasks.js';
import { Task, TaskKind } from '../shared/proto/gen/deltachain/tasks/v1/task.js';
import { createLogger } from '../shared/logging/index.js';
import { startHostLab, type HostLab } from './support/host-lab.js';
import { backupTask, hostAgentConfig } from './support/host-tasks.js';
import { startStorageHarness, type StorageHarness } from './support/storage-harness.js';
import { startTestNats, type TestNats } from './support/storage-nats.js';
import { testTaskKeys } from './support/task-keys.js';
import { publishTask } from '../shared/nats/index.js';

function releaseTask(poolId: string, release: ReleaseReferencesTask): Task {
  return { taskId: randomUUID(), kind: TaskKind.TASK_KIND_RELEASE_REFERENCES, target: { agent: { $case: 'poolId', value: poolId } }, attempt: 1, createdAtMs: Date.now(), deadlineMs: 0, expiresAtMs: 0, signedAtMs: 0, runId: '', leaderTerm: 0, payload: { $case: 'releaseReferences', value: release } };
}

describe('host agent: releasing reference snapshots', () => {
  let env: HostLab;
  let storage: StorageHarness;
  let nats: TestNats;
  let agent: RunningHostAgent;
  let web: string;
  let db: string;
  const poolId = `pool-${randomUUID().slice(0, 8)}`;
  const policy = randomUUID();
  const otherPolicy = randomUUID();
  let backups = 0;

  before(async () => {
    env = await startHostLab();
    storage = await startStorageHarness();
    nats = await startTestNats();
    await nats.queue('host', poolId);
    agent = await startHostAgent(hostAgentConfig({ lab: env.lab, poolId, namespace: nats.namespace }), createLogger({ level: 'silent' }));
    web = await env.vmUuid('web');
    db = await env.vmUuid('db');
  });
  after(async () => {
    await agent?.stop();
    await nats?.close();
    await storage?.close();
    await env?.close();
  });

  async function publish(task: Task): Promise<void> {
    await publishTask(nats.nc, nats.names.hostTasks(poolId), task, testTaskKeys().signer);
  }

  async function result(task: Task): Promise<TaskResult> {
    const event = await nats.waitForEvent((e) => e.taskId === task.taskId && e.body?.$case === 'result', 60_000, `result of ${task.taskId}`);
    return event.body!.value as TaskResult;
  }

  /** A full backup of `vm` for `policyId` to the storage harness's remote; returns its snapshot. */
  function backup(vm: string, policyId = policy): Task {
    const backupId = `20240101T00000${backups++}Z-rel`;
    return backupTask(poolId, { vmUuid: vm, backupId, remoteId: storage.ctx.remoteId, storageAddress: storage.server.address, baseSnapshotVdiByDisk: {}, policyJson: JSON.stringify({ id: policyId, name: 'p' }) });
  }

  async function backedUp(vm: string, policyId = policy): Promise<string> {
    const task = backup(vm, policyId);
    await publish(task);
    const done = await result(task);
    assert.equal(done.status, TaskStatus.TASK_STATUS_SUCCEEDED, done.error?.message);
    return done.output?.$case === 'backup' ? done.output.value.snapshotUuid : '';
  }

  async function release(request: Partial<ReleaseReferencesTask>): Promise<string[]> {
    const task = releaseTask(poolId, { policyId: policy, vmUuids: [], keepRemoteIds: [], ...request });
    await publish(task);
    const done = await result(task);
    assert.equal(done.status, TaskStatus.TASK_STATUS_SUCCEEDED, done.error?.message);
    return done.output?.$case === 'releaseReferences' ? done.output.value.destroyedSnapshotUuids : [];
  }

  async function snapshotsOf(vm: string): Promise<string[]> {
    return (await env.admin.state()).vms.filter((v) => v.isSnapshot && v.snapshotOf === vm).map((v) => v.uuid).sort();
  }

  it('keeps the references of kept remotes, destroys those of a dropped one, then finds nothing more', async () => {
    const reference = await backedUp(web);
    assert.deepEqual(await release({ vmUuids: [web], keepRemoteIds: [storage.ctx.remoteId] }), [], 'its remote is kept');
    assert.deepEqual(await snapshotsOf(web), [reference]);
    assert.deepEqual(await release({ vmUuids: [web], keepRemoteIds: ['offsite'] }), [reference], 'its remote was dropped');
    assert.deepEqual(await snapshotsOf(web), []);
    assert.deepEqual(await release({ vmUuids: [web], keepRemoteIds: ['offsite'] }), [], 'a second release destroys nothing');
  });

  it('never touches another policy’s snapshot, the user’s own, or a VM not named', async () => {
    const others = await backedUp(web, otherPolicy);
    const dbReference = await backedUp(db);
    const vmRef = await env.xapi.call<string>('VM.get_by_uuid', web);
    const userRef = await env.xapi.callAsync<string>('VM.snapshot', vmRef, 'before the upgrade');
    const user = (await env.xapi.getRecord<{ uuid: string }>('VM', userRef)).uuid;
    assert.deepEqual(await release({ vmUuids: [web] }), [], 'nothing of this policy on web');
    assert.deepEqual(await snapshotsOf(web), [others, user].sort());
    assert.deepEqual(await snapshotsOf(db), [dbReference]);
    assert.deepEqual(await release({}), [dbReference], 'no VM named: every VM of the pool, for this policy only');
    assert.deepEqual(await snapshotsOf(web), [others, user].sort());
  });

  it('a release for a VM whose backup is running waits for it, then destroys the reference it left', async () => {
    const running = backup(web);
    await publish(running);
    await nats.waitForEvent((e) => e.taskId === running.taskId && e.body?.$case === 'progress' && (e.body.value as { phase: string }).phase === 'export', 60_000, 'the backup exporting');
    const releasing = releaseTask(poolId, { policyId: policy, vmUuids: [web], keepRemoteIds: [] });
    await publish(releasing);
    const [backupDone, releaseDone] = await Promise.all([result(running), result(releasing)]);
    assert.equal(backupDone.status, TaskStatus.TASK_STATUS_SUCCEEDED, `the backup was not disturbed: ${backupDone.error?.message}`);
    const order = nats.events.filter((e) => e.body?.$case === 'result' && (e.taskId === running.taskId || e.taskId === releasing.taskId)).map((e) => e.taskId);
    assert.deepEqual(order, [running.taskId, releasing.taskId], 'the release finished after the backup');
    const reference = backupDone.output?.$case === 'backup' ? backupDone.output.value.snapshotUuid : '';
    assert.deepEqual(releaseDone.output?.$case === 'releaseReferences' ? releaseDone.output.value.destroyedSnapshotUuids : undefined, [reference]);
  });

  it('reports the orphan CBT metadata it destroys: a purged reference whose snapshot VM went alone', async () => {
    const purged = randomUUID();
    for (const disk of await env.diskUuids(db)) await env.xapi.call('VDI.enable_cbt', await env.xapi.call<string>('VDI.get_by_uuid', disk));
    const snapshot = await env.xapi.getRecordByUuid<{ VBDs: string[] }>('VM', await backedUp(db, purged));
    const vdis: string[] = [];
    for (const vbd of snapshot.record.VBDs) {
      const vdiRef = (await env.xapi.getRecord<{ VDI: string; type: string }>('VBD', vbd)).VDI;
      if ((await env.xapi.getRecord<{ type: string }>('VBD', vbd)).type !== 'Disk') continue;
      await env.xapi.call('VDI.data_destroy', vdiRef);
      vdis.push((await env.xapi.getRecord<{ uuid: string }>('VDI', vdiRef)).uuid);
    }
    assert.ok(vdis.length > 0);
    await env.xapi.call('VM.destroy', snapshot.ref);
    const task = releaseTask(poolId, { policyId: purged, vmUuids: [db], keepRemoteIds: [] });
    await publish(task);
    const done = await result(task);
    assert.equal(done.status, TaskStatus.TASK_STATUS_SUCCEEDED, done.error?.message);
    assert.ok(done.output?.$case === 'releaseReferences');
    assert.deepEqual(done.output.value.destroyedSnapshotUuids, []);
    assert.deepEqual([...done.output.value.destroyedOrphanVdiUuids].sort(), vdis.sort());
  });

  it('refuses a release whose policy id is not a uuid, naming the field', async () => {
    const task = releaseTask(poolId, { policyId: 'nightly', vmUuids: [], keepRemoteIds: [] });
    await publish(task);
    const done = await result(task);
    assert.equal(done.status, TaskStatus.TASK_STATUS_FAILED);
    assert.equal(done.error?.code, 'INVALID_INPUT');
    assert.match(done.error!.message, /policy_id "nightly" is not a lowercase uuid/);
  });
});
