// Crash safety of the host agent, with real processes: a host agent (`deltachain agent --config`,
// a child process) is killed with SIGKILL in the middle of a backup's export; JetStream redelivers
// the task after the ack wait to another host agent, which takes up the killed run's snapshot and
// resumes each disk's upload after the blocks the storage agent kept — the link (our proxy, which
// counts) carries only the rest — commits once, and the backup restores to the source disks' content.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startHostAgent, type RunningHostAgent } from '../agent/host/index.js';
import type { XapiVm } from '../agent/host/xapi/xapi-records.js';
import { publishTask } from '../shared/nats/index.js';
import { TaskStatus, type TaskProgress, type TaskResult } from '../shared/proto/gen/deltachain/tasks/v1/event.js';
import { createLogger } from '../shared/logging/index.js';
import { startHostLab, type HostLab } from './support/host-lab.js';
import { backupTask, hostAgentConfig, restoreTask } from './support/host-tasks.js';
import { startStorageHarness, type StorageHarness } from './support/storage-harness.js';
import { resultOf, startTestNats, type TestNats } from './support/storage-nats.js';
import { testTaskKeys } from './support/task-keys.js';
import { linkShape, startWanLink, type WanLink } from './support/wan-link.js';
import { AGENT_NODE_FLAGS, agentEnvironment } from '../agent/node-flags.js';

const BIN = fileURLToPath(new URL('../bin/deltachain.mjs', import.meta.url));

describe('host agent killed mid-export', () => {
  let env: HostLab;
  let storage: StorageHarness;
  let nats: TestNats;
  let folder: string;
  let child: ChildProcess | undefined;
  let survivor: RunningHostAgent | undefined;
  let link: WanLink;
  const poolId = `pool-${randomUUID().slice(0, 8)}`;

  before(async () => {
    env = await startHostLab();
    storage = await startStorageHarness();
    nats = await startTestNats();
    folder = await mkdtemp(join(tmpdir(), 'deltachain-host-crash-'));
  });
  after(async () => {
    child?.kill('SIGKILL');
    await survivor?.stop();
    await nats?.close();
    await link?.close();
    await storage?.close();
    await env?.close();
    await rm(folder, { recursive: true, force: true });
  });

  it('redelivers the task to another agent, which cleans up, commits once and restores correctly', async () => {
    const webUuid = await env.vmUuid('web');
    const sourceDigests = await Promise.all((await env.diskUuids(webUuid)).map(async (vdi) => (await env.admin.digest(vdi)).sha256));
    const config = hostAgentConfig({ lab: env.lab, poolId, namespace: nats.namespace, agentId: 'host-doomed', ackWaitSeconds: 5 });
    const configPath = join(folder, 'host-agent.json');
    await writeFile(configPath, JSON.stringify(config));
    await env.admin.setFaults({ slowStreams: { bytesPerSecond: 2 * 1024 * 1024 } });
    await nats.queue('host', poolId, { ackWaitSeconds: 5 });
    child = spawn(process.execPath, [...AGENT_NODE_FLAGS, BIN, 'agent', '--config', configPath], { stdio: ['ignore', 'ignore', 'pipe'], env: agentEnvironment() });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));

    link = await startWanLink({ host: '127.0.0.1', port: storage.server.port }, linkShape(1000, 1));
    const task = backupTask(poolId, {
      vmUuid: webUuid,
      backupId: '20240101T000000Z-crash',
      remoteId: storage.ctx.remoteId,
      storageAddress: `127.0.0.1:${link.port}`,
      baseSnapshotVdiByDisk: {},
      policyJson: JSON.stringify({ id: randomUUID() }),
    });
    await publishTask(nats.nc, nats.names.hostTasks(poolId), task, testTaskKeys().signer);
    // Killed once it has sent a good part of the disks.
    await nats.waitForEvent(
      (e) => e.taskId === task.taskId && e.agentId === 'host-doomed' && e.body?.$case === 'progress' && (e.body.value as TaskProgress).phase === 'export' && (e.body.value as TaskProgress).done > 0.4 * Number((e.body.value as TaskProgress).total),
      60_000,
      `export progress from the doomed agent (stderr: ${stderr})`,
    );
    child.kill('SIGKILL');
    await new Promise((resolve) => child!.once('exit', resolve));
    const carriedBefore = link.carried().up;
    const { record } = await env.xapi.getRecordByUuid<XapiVm>('VM', webUuid);
    assert.equal(record.snapshots.length, 1, 'the killed run left its snapshot behind');
    const leftover = await env.xapi.call<string>('VM.get_uuid', record.snapshots[0]);
    await env.admin.clearFaults();

    survivor = await startHostAgent(hostAgentConfig({ lab: env.lab, poolId, namespace: nats.namespace, agentId: 'host-survivor', ackWaitSeconds: 5 }), createLogger({ level: 'silent', pretty: false }));
    const event = await nats.waitForEvent((e) => e.taskId === task.taskId && e.agentId === 'host-survivor' && e.body?.$case === 'result', 60_000, 'result from the surviving agent');
    const result = event.body!.value as TaskResult;
    assert.equal(result.status, TaskStatus.TASK_STATUS_SUCCEEDED, result.error?.message);
    const backup = result.output?.$case === 'backup' ? result.output.value : undefined;
    assert.equal(backup?.snapshotUuid, leftover, "the killed run's snapshot was taken up: it is the new reference");
    const { record: after } = await env.xapi.getRecordByUuid<XapiVm>('VM', webUuid);
    assert.equal(after.snapshots.length, 1, 'only the reference remains');
    const sent = backup!.bytesSent;
    const resumed = link.carried().up - carriedBefore;
    console.log(`# the doomed agent carried ${carriedBefore} bytes; the survivor ${resumed}, of ${sent} for the whole backup`);
    assert.ok(carriedBefore > 0.3 * sent, 'the doomed agent had sent a good part');
    assert.ok(resumed < sent - 0.8 * carriedBefore, `the survivor resumed: it carried ${resumed} bytes of ${sent}, the doomed agent ${carriedBefore} before`);
    assert.deepEqual((await storage.client.listBackups(webUuid)).map((b) => b.backupId), ['20240101T000000Z-crash']);

    const srs = await env.xapi.call<Record<string, { uuid: string; name_label: string }>>('SR.get_all_records');
    const srUuid = Object.values(srs).find((sr) => sr.name_label === 'Restore SR')!.uuid;
    const restore = restoreTask(poolId, { vmUuid: webUuid, backupId: '20240101T000000Z-crash', remoteId: storage.ctx.remoteId, storageAddress: storage.server.address, srUuid, nameLabel: 'after crash', expectedChainDigests: {} });
    await publishTask(nats.nc, nats.names.hostTasks(poolId), restore, testTaskKeys().signer);
    const restored = (await resultOf(nats, restore.taskId)).body!.value as TaskResult;
    assert.equal(restored.status, TaskStatus.TASK_STATUS_SUCCEEDED, restored.error?.message);
    const newVm = restored.output?.$case === 'restore' ? restored.output.value.newVmUuid : '';
    const digests = await Promise.all((await env.diskUuids(newVm)).map(async (vdi) => (await env.admin.digest(vdi)).sha256));
    assert.deepEqual(digests, sourceDigests);
  });
});
