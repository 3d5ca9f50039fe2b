// Clean shutdown with work in flight, on real parts (NATS JetStream, agent processes, the lab
// pool, a real storage agent): SIGTERM stops pulling, gives running tasks `shutdownGraceSeconds`
// (0 here) and hands the rest back to the queue — nak'ed, so another agent gets them at once
// rather than after the ack wait — with no result reported by the stopping agent. What the
// interrupted work left is crash-safe: a storage agent's merge reads the same and is finished
// by the next agent; a host agent's backup is redone once by the next agent, which removes the
// stopped run's snapshot, and the remote holds one backup and no temporary.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ChannelCredentials } from '@grpc/grpc-js';
import { startHostAgent, type RunningHostAgent } from '../agent/host/index.js';
import type { XapiVm } from '../agent/host/xapi/xapi-records.js';
import { StorageClient } from '../shared/grpc/storage-client.js';
import { createLogger } from '../shared/logging/index.js';
import { publishTask, startTaskConsumer, type TaskDelivery } from '../shared/nats/index.js';
import { TaskStatus, type TaskProgress, type TaskResult, type TaskStarted } from '../shared/proto/gen/deltachain/tasks/v1/event.js';
import { ChainReader } from '../shared/vhd/index.js';
import { startDeltachain, waitFor, type RunningProcess } from './support/deploy-processes.js';
import { startHostLab, type HostLab } from './support/host-lab.js';
import { backupTask, hostAgentConfig } from './support/host-tasks.js';
import { MiB, diskHeader, listTree, patternBlock, records, startStorageHarness, type StorageHarness } from './support/storage-harness.js';
import { resultOf, startTestNats, storageTask, testNatsSection, type TestNats } from './support/storage-nats.js';
import { testTaskKeys } from './support/task-keys.js';

const silent = createLogger({ level: 'silent', pretty: false });
/** Long enough that a redelivery inside it can only come from the hand-back. */
const ACK_WAIT_SECONDS = 60;

describe('SIGTERM with a task in flight hands it back to the queue', { timeout: 240_000 }, () => {
  let nats: TestNats;
  let folder: string;
  before(async () => {
    nats = await startTestNats();
    folder = await mkdtemp(join(tmpdir(), 'dc-shutdown-'));
  });
  after(async () => {
    await nats?.close();
    await rm(folder, { recursive: true, force: true });
  });

  const eventsOf = (taskId: string, agentId: string, kind: string) => nats.events.filter((e) => e.taskId === taskId && e.agentId === agentId && e.body?.$case === kind);

  it('the task consumer: after the grace period a running task is nak\'ed, its signal aborted and its outcome ignored', async () => {
    const subject = nats.names.storageTasks('consumer-test');
    await nats.queue('storage', 'consumer-test', { ackWaitSeconds: ACK_WAIT_SECONDS, maxDeliver: 5 });
    let release: () => void = () => undefined;
    const firstSignal: AbortSignal[] = [];
    const first = await startTaskConsumer({
      nc: nats.nc, names: nats.names, role: 'storage', scope: 'consumer-test', concurrency: 1, logger: silent, pullExpiresMs: 1000,
      handler: async (delivery: TaskDelivery) => {
        firstSignal.push(delivery.signal!);
        await new Promise<void>((resolve) => (release = resolve));
        return 'ack';
      },
    });
    const deliveries: number[] = [];
    let second: Awaited<ReturnType<typeof startTaskConsumer>> | undefined;
    try {
      const task = storageTask('consumer-test', { $case: 'verify', value: { vmUuid: randomUUID(), backupId: 'b' } });
      await publishTask(nats.nc, subject, task, testTaskKeys().signer);
      await waitFor('the first delivery', () => firstSignal.length === 1, 10_000);
      const started = Date.now();
      assert.deepEqual(await first.stop({ graceMs: 100 }), { handedBack: 1 });
      assert.equal(firstSignal[0]!.aborted, true);
      second = await startTaskConsumer({
        nc: nats.nc, names: nats.names, role: 'storage', scope: 'consumer-test', concurrency: 1, logger: silent, pullExpiresMs: 1000,
        handler: async (delivery) => (deliveries.push(delivery.deliveryCount), 'ack'),
      });
      await waitFor('the redelivery', () => deliveries.length === 1, 10_000);
      assert.deepEqual(deliveries, [2]);
      assert.ok(Date.now() - started < ACK_WAIT_SECONDS * 500, 'redelivered at once, not after the ack wait');
      release(); // the first handler ends now: its 'ack' must not reach JetStream (the task is the second's)
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(deliveries, [2], 'delivered twice in all');
    } finally {
      release();
      await first.stop({ graceMs: 0 });
      await second?.stop();
    }
  });

  it('storage agent mid-merge: exits 0 at once, reports nothing, dates read the same; the next agent finishes the merge once', async () => {
    const root = join(folder, 'remote');
    const remoteId = `shut-${randomUUID().slice(0, 8)}`;
    await nats.queue('storage', remoteId, { ackWaitSeconds: ACK_WAIT_SECONDS });
    const agent = (agentId: string) =>
      writeFile(join(folder, `${agentId}.json`), JSON.stringify({
        role: 'storage', agentId, log: { level: 'info', pretty: false }, shutdownGraceSeconds: 0,
        nats: testNatsSection(nats.namespace),
        storage: { remoteId, root, listen: { host: '127.0.0.1', port: 0 }, tls: { insecure: true }, heartbeatSeconds: 60, mergeCheckpointBlocks: 1 },
        trust: { coordinatorKey: testTaskKeys().publicPath },
      })).then(() => startDeltachain(agentId, ['agent', '--config', join(folder, `${agentId}.json`)], (l) => (l.msg === 'storage agent ready' ? String(l.address) : undefined)));

    // A full, a delta rewriting every block, a small delta: merging the first delta is the task.
    const vm = randomUUID();
    const ids = ['20261126T100000Z-f', '20261127T100000Z-d1', '20261128T100000Z-d2'];
    const uuids = ids.map(() => randomUUID());
    const blocks = Array.from({ length: 32 }, (_, i) => i);
    const layers = [new Map(blocks.map((i) => [i, 1])), new Map(blocks.map((i) => [i, 2])), new Map([[3, 3], [20, 3]])];
    const doomed: RunningProcess<string> = await agent('storage-doomed');
    const client = new StorageClient(doomed.ready, ChannelCredentials.createInsecure());
    for (let n = 0; n < 3; n++) {
      const header = diskHeader({ vmUuid: vm, backupId: ids[n]!, footerUuid: uuids[n]!, parentFooterUuid: n === 0 ? '' : uuids[n - 1]!, virtualSize: 64 * MiB });
      await client.putDisk(header, (function* () {
        for (const [index, seed] of layers[n]!) yield { index, data: patternBlock(seed, index) };
      })());
      await client.commitBackup({ backupId: ids[n]!, vmUuid: vm, timestampMs: Date.now(), diskKeys: ['xvda'], recordsJson: records(vm), policyJson: '', diskSources: [] });
    }
    client.close();

    const task = storageTask(remoteId, { $case: 'merge', value: { vmUuid: vm, backupId: ids[1]! } });
    await nats.publish(task);
    await nats.waitForEvent((e) => e.taskId === task.taskId && e.body?.$case === 'progress' && (e.body.value as TaskProgress).done >= 1, 60_000, 'merge progress');
    const exit = await doomed.stop('SIGTERM');
    assert.deepEqual([exit.code, exit.signal], [0, null], 'a clean exit');
    assert.ok(exit.ms < 10_000, `stopped in ${exit.ms} ms`);
    assert.ok(doomed.logs.some((l) => l.msg === 'task handed back to the queue'), 'the merge was handed back');
    assert.ok(doomed.logs.some((l) => l.msg === 'storage agent stopped' && l.handedBack === 1));
    assert.deepEqual(eventsOf(task.taskId, 'storage-doomed', 'result'), [], 'no result from the stopped agent');

    // Whatever point the merge reached, every retained date reads as it should.
    const folderOfDisk = join(root, 'vms', vm, 'disks', 'xvda');
    const expect = (upTo: number) => new Map([...layers.slice(0, upTo + 1).flatMap((l) => [...l])]);
    for (const n of [1, 2]) {
      const chain = await ChainReader.open(join(folderOfDisk, `${ids[n]}.vhd`));
      try {
        for (const [index, seed] of expect(n)) assert.ok((await chain.readBlock(index)).equals(patternBlock(seed, index)), `${ids[n]} block ${index} after the stop`);
      } finally {
        await chain.close();
      }
    }

    const stoppedAt = Date.now();
    const survivor = await agent('storage-survivor');
    try {
      const result = (await resultOf(nats, task.taskId, ACK_WAIT_SECONDS * 1000)).body!.value as TaskResult;
      assert.equal(result.status, TaskStatus.TASK_STATUS_SUCCEEDED, result.error?.message);
      assert.ok(Date.now() - stoppedAt < (ACK_WAIT_SECONDS * 1000) / 2, 'redelivered at once, not after the ack wait');
      assert.deepEqual(eventsOf(task.taskId, 'storage-survivor', 'started').map((e) => (e.body!.value as TaskStarted).delivery), [2]);
      assert.deepEqual(eventsOf(task.taskId, 'storage-survivor', 'result').length, 1);
      const names = await readdir(folderOfDisk);
      assert.ok(!names.some((n) => n.includes('.merge.') || n.endsWith('.tmp')), `leftovers: ${names.join(', ')}`);
      const c = new StorageClient(survivor.ready, ChannelCredentials.createInsecure());
      assert.deepEqual((await c.listBackups(vm)).map((b) => b.backupId), ids.slice(1));
      c.close();
    } finally {
      await survivor.stop('SIGTERM');
    }
  });

  describe('host agent mid-export', () => {
    let env: HostLab;
    let storage: StorageHarness;
    let survivor: RunningHostAgent | undefined;
    let doomed: RunningProcess<boolean> | undefined;
    before(async () => {
      env = await startHostLab();
      storage = await startStorageHarness();
    });
    after(async () => {
      await doomed?.stop('SIGKILL');
      await survivor?.stop();
      await storage?.close();
      await env?.close();
    });

    it('exits 0 at once and reports nothing; the next agent takes up the stopped run\'s snapshot and uploads, and backs up once', async () => {
      const poolId = `pool-${randomUUID().slice(0, 8)}`;
      await nats.queue('host', poolId, { ackWaitSeconds: ACK_WAIT_SECONDS });
      const vm = await env.vmUuid('web');
      const configPath = join(folder, 'host-doomed.json');
      const config = { ...hostAgentConfig({ lab: env.lab, poolId, namespace: nats.namespace, agentId: 'host-doomed', ackWaitSeconds: ACK_WAIT_SECONDS }), shutdownGraceSeconds: 0 };
      await writeFile(configPath, JSON.stringify({ ...config, log: { level: 'info', pretty: false } }));
      await env.admin.setFaults({ slowStreams: { bytesPerSecond: 2 * MiB } });
      doomed = await startDeltachain('host-doomed', ['agent', '--config', configPath], (l) => (l.msg === 'host agent ready' ? true : undefined));
      const task = backupTask(poolId, {
        vmUuid: vm, backupId: '20261126T120000Z-sigterm', remoteId: storage.ctx.remoteId, storageAddress: storage.server.address, baseSnapshotVdiByDisk: {}, policyJson: JSON.stringify({ id: randomUUID() }),
      });
      await publishTask(nats.nc, nats.names.hostTasks(poolId), task, testTaskKeys().signer);
      await nats.waitForEvent(
        (e) => e.taskId === task.taskId && e.agentId === 'host-doomed' && e.body?.$case === 'progress' && (e.body.value as TaskProgress).phase === 'export' && (e.body.value as TaskProgress).done > 0,
        60_000,
        'export progress',
      );
      const exit = await doomed.stop('SIGTERM');
      assert.deepEqual([exit.code, exit.signal], [0, null], 'a clean exit');
      assert.ok(exit.ms < 10_000, `stopped in ${exit.ms} ms`);
      assert.ok(doomed.logs.some((l) => l.msg === 'task handed back to the queue'));
      assert.deepEqual(eventsOf(task.taskId, 'host-doomed', 'result'), [], 'no result from the stopped agent');
      await env.admin.clearFaults();
      const { record: stopped } = await env.xapi.getRecordByUuid<XapiVm>('VM', vm);
      assert.equal(stopped.snapshots.length, 1, 'the stopped run left its snapshot');
      const left = await env.xapi.call<string>('VM.get_uuid', stopped.snapshots[0]);

      const stoppedAt = Date.now();
      survivor = await startHostAgent(hostAgentConfig({ lab: env.lab, poolId, namespace: nats.namespace, agentId: 'host-survivor', ackWaitSeconds: ACK_WAIT_SECONDS }), silent);
      const result = (await resultOf(nats, task.taskId, ACK_WAIT_SECONDS * 1000)).body!.value as TaskResult;
      assert.equal(result.status, TaskStatus.TASK_STATUS_SUCCEEDED, result.error?.message);
      assert.ok(Date.now() - stoppedAt < (ACK_WAIT_SECONDS * 1000) / 2, 'redelivered at once, not after the ack wait');
      assert.deepEqual(eventsOf(task.taskId, 'host-survivor', 'started').map((e) => (e.body!.value as TaskStarted).delivery), [2]);
      assert.equal(result.output?.$case === 'backup' && result.output.value.snapshotUuid, left, "the stopped run's snapshot was taken up: it is the new reference");
      const { record } = await env.xapi.getRecordByUuid<XapiVm>('VM', vm);
      assert.equal(record.snapshots.length, 1, 'only the reference snapshot remains');
      assert.deepEqual((await storage.client.listBackups(vm)).map((b) => b.backupId), ['20261126T120000Z-sigterm']);
      await waitFor('the stopped upload\'s temporary to be dropped', async () => !(await listTree(storage.root)).some((f) => f.endsWith('.tmp')), 10_000);
    });
  });
});
