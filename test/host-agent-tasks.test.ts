// The host agent as a process would run it (in-process here): tasks pulled from the real NATS
// JetStream, events published back — started, progress with bytes, blocks and rate, a result with
// the per-disk report — a redelivered task reporting the same result and doing nothing else, a
// restore by task, and failures reported with their code.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { startHostAgent, type RunningHostAgent } from '../agent/host/index.js';
import { publishSignedTask, publishTask } from '../shared/nats/index.js';
import { Event, TaskStatus, type TaskProgress, type TaskResult } from '../shared/proto/gen/deltachain/tasks/v1/event.js';
import { Task } from '../shared/proto/gen/deltachain/tasks/v1/task.js';
import { createLogger } from '../shared/logging/index.js';
import { startHostLab, type HostLab } from './support/host-lab.js';
import { backupTask, hostAgentConfig, restoreTask } from './support/host-tasks.js';
import { startStorageHarness, type StorageHarness } from './support/storage-harness.js';
import { resultOf, startTestNats, type TestNats } from './support/storage-nats.js';
import { testTaskKeys } from './support/task-keys.js';
import { signTask } from '../shared/task-trust/index.js';

describe('host agent tasks over NATS', () => {
  let env: HostLab;
  let storage: StorageHarness;
  let nats: TestNats;
  let agent: RunningHostAgent;
  let webUuid: string;
  const poolId = `pool-${randomUUID().slice(0, 8)}`;
  const policyJson = JSON.stringify({ id: randomUUID(), name: 'nightly' });
  const password = `secret-${randomUUID()}`;
  let logs = '';

  before(async () => {
    env = await startHostLab({ password });
    storage = await startStorageHarness();
    nats = await startTestNats();
    await nats.queue('host', poolId);
    const destination = new PassThrough();
    destination.on('data', (chunk: Buffer) => (logs += chunk.toString()));
    agent = await startHostAgent(hostAgentConfig({ lab: env.lab, poolId, namespace: nats.namespace }), createLogger({ level: 'debug', pretty: false, destination }));
    webUuid = await env.vmUuid('web');
  });
  after(async () => {
    await agent?.stop();
    await nats?.close();
    await storage?.close();
    await env?.close();
  });

  function backup(backupId: string, bases: Record<string, string> = {}): Task {
    return backupTask(poolId, { vmUuid: webUuid, backupId, remoteId: storage.ctx.remoteId, storageAddress: storage.server.address, baseSnapshotVdiByDisk: bases, policyJson });
  }

  /**
   * Publishes signed, as the coordinator does, and waits for a new result. `again`: the
   * coordinator's next attempt of the same task (a new message, attempt + 1) — the same
   * attempt as a second message would be refused as a replay (test/security-tasks.test.ts).
   */
  async function run(task: Task, again = false): Promise<TaskResult> {
    const seen = new Set(nats.events.map((e) => e.eventId));
    const now = Date.now();
    const attempt = again ? task.attempt + 1 : task.attempt;
    const data = Task.encode({ ...task, attempt, signedAtMs: now, expiresAtMs: now + 600_000 }).finish();
    await publishSignedTask(nats.nc, nats.names.hostTasks(poolId), data, signTask(testTaskKeys().signer, data), `${task.taskId}.${attempt}`);
    const event = await nats.waitForEvent((e) => e.taskId === task.taskId && e.body?.$case === 'result' && !seen.has(e.eventId), 60_000, `result of ${task.taskId}`);
    return event.body!.value as TaskResult;
  }

  let fullTask: Task;
  let full: TaskResult;

  it('runs a backup task and reports started, progress (bytes, blocks, rate) and a per-disk result', async () => {
    fullTask = backup('20240101T000000Z-web');
    await publishTask(nats.nc, nats.names.hostTasks(poolId), fullTask, testTaskKeys().signer);
    await resultOf(nats, fullTask.taskId);
    const mine = nats.events.filter((e) => e.taskId === fullTask.taskId);
    assert.equal(mine[0]!.body?.$case, 'started');
    full = mine.at(-1)!.body!.value as TaskResult;
    assert.equal(full.status, TaskStatus.TASK_STATUS_SUCCEEDED, full.error?.message);
    const output = full.output?.$case === 'backup' ? full.output.value : undefined;
    assert.ok(output);
    assert.equal(output.backupId, '20240101T000000Z-web');
    assert.deepEqual(output.report?.disks.map((d) => [d.mode, d.fullReason]), [['full', 'requested'], ['full', 'requested']]);
    assert.equal(output.bytesSent, output.report!.disks.reduce((sum, d) => sum + d.bytesSent, 0));
    const progress = mine.filter((e) => e.body?.$case === 'progress').map((e) => e.body!.value as TaskProgress);
    const exporting = progress.filter((p) => p.phase === 'export');
    assert.ok(exporting.length > 0, 'progress during the export');
    const last = exporting.at(-1)!;
    assert.equal(last.unit, 'bytes');
    assert.ok(last.done > 0 && last.done <= last.total);
    assert.ok((last.blocksDone ?? 0) > 0 && (last.blocksTotal ?? 0) >= (last.blocksDone ?? 0));
    assert.ok((last.bytesPerSecond ?? 0) > 0);
    assert.ok(progress.some((p) => p.phase === 'commit') && progress.some((p) => p.phase === 'rotate'));
    assert.ok(nats.events.some((e) => e.body?.$case === 'heartbeat' && e.agentId === 'host-test'));
  });

  it('reports the same result for a redelivered backup task and does nothing else', async () => {
    const before = await storage.client.listBackups(webUuid);
    const again = await run(fullTask, true);
    assert.equal(again.status, TaskStatus.TASK_STATUS_SUCCEEDED);
    const first = full.output?.$case === 'backup' ? full.output.value : undefined;
    const second = again.output?.$case === 'backup' ? again.output.value : undefined;
    assert.equal(second?.report?.redelivered, true);
    assert.equal(second?.snapshotUuid, first?.snapshotUuid);
    assert.deepEqual(second?.report?.disks, first?.report?.disks);
    assert.deepEqual(await storage.client.listBackups(webUuid), before);
  });

  it('runs a delta backup task after guest writes', async () => {
    const [root] = await env.diskUuids(webUuid);
    const written = await env.admin.write({ vdi: root!, pattern: 'clustered', percent: 10, seed: 5 });
    const first = full.output?.$case === 'backup' ? full.output.value : undefined;
    const bases = Object.fromEntries(first!.report!.disks.map((d) => [d.diskKey, d.snapshotVdiUuid]));
    const result = await run(backup('20240102T000000Z-web', bases));
    assert.equal(result.status, TaskStatus.TASK_STATUS_SUCCEEDED, result.error?.message);
    const report = result.output?.$case === 'backup' ? result.output.value.report : undefined;
    const rootDisk = report!.disks.find((d) => d.diskKey === root)!;
    assert.equal(rootDisk.mode, 'delta');
    assert.equal(rootDisk.blocks, written.blocks);
    assert.deepEqual(report!.removedSnapshots.map((s) => s.snapshotUuid), [first!.snapshotUuid]);
  });

  it('runs a restore task, and a redelivered restore reports the same VM', async () => {
    const srs = await env.xapi.call<Record<string, { uuid: string; name_label: string }>>('SR.get_all_records');
    const srUuid = Object.values(srs).find((sr) => sr.name_label === 'Restore SR')!.uuid;
    const task = restoreTask(poolId, { vmUuid: webUuid, backupId: '20240102T000000Z-web', remoteId: storage.ctx.remoteId, storageAddress: storage.server.address, srUuid, nameLabel: 'web from task', expectedChainDigests: {} });
    const result = await run(task);
    assert.equal(result.status, TaskStatus.TASK_STATUS_SUCCEEDED, result.error?.message);
    const output = result.output?.$case === 'restore' ? result.output.value : undefined;
    assert.equal(output?.report?.newVmName, 'web from task');
    const sources = await env.diskUuids(webUuid);
    const restored = await env.diskUuids(output!.newVmUuid);
    for (const [i, vdi] of restored.entries()) assert.equal((await env.admin.digest(vdi)).sha256, (await env.admin.digest(sources[i]!)).sha256);
    const again = await run(task, true);
    const second = again.output?.$case === 'restore' ? again.output.value : undefined;
    assert.equal(second?.newVmUuid, output?.newVmUuid);
    assert.equal(second?.report?.redelivered, true);
    const named = (await env.admin.state()).vms.filter((vm) => vm.name === 'web from task');
    assert.equal(named.length, 1, 'one VM, not two');
  });

  it('fails a task with the XAPI code and parameters, as not retryable, when the SR refuses the snapshot', async () => {
    await env.admin.setFaults({ snapshotFailure: { times: 1 } });
    const result = await run(backup('20240103T000000Z-web'));
    assert.equal(result.status, TaskStatus.TASK_STATUS_FAILED);
    assert.equal(result.error?.code, 'XAPI_CALL_FAILED');
    assert.match(result.error!.message, /SR_BACKEND_FAILURE_82\(, Failed to snapshot VDI, \)/);
    assert.equal(result.error?.retryable, false);
  });

  it('refuses a malformed task with a message naming the field', async () => {
    const bad = backup('20240104T000000Z-web');
    (bad.payload!.value as { policyJson: string }).policyJson = '{}';
    const result = await run(bad);
    assert.equal(result.status, TaskStatus.TASK_STATUS_FAILED);
    assert.equal(result.error?.code, 'INVALID_INPUT');
    assert.match(result.error!.message, /policy_json/);
  });

  it('never logs the XAPI password nor puts it in an event', async () => {
    assert.ok(logs.includes('"msg":"task succeeded"'), 'the agent did log (at debug level)');
    assert.equal(logs.includes(password), false, 'the password is not in the logs');
    for (const event of nats.events) assert.equal(Buffer.from(Event.encode(event).finish()).includes(password), false, 'nor in any event');
  });
});
