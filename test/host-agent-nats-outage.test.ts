// A site whose NATS goes away while its host agent works (docs/multi-site.md, "NATS"): real
// nats-server (our own process, JetStream on disk), real host agent, lab pool, storage agent. The
// server is killed in the middle of a backup's export: the agent goes on (its data goes over gRPC),
// the backup commits; its result cannot be published. The server comes back on the same store:
// the task is delivered again, and the agent reports the committed backup — nothing exported twice,
// one backup on the remote.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { startHostAgent, type RunningHostAgent } from '../agent/host/index.js';
import { connectNats, decodeEvent, ensureStreams, ensureTaskConsumer, natsNames, natsSchema, publishTask } from '../shared/nats/index.js';
import { TaskStatus, type Event, type TaskResult } from '../shared/proto/gen/deltachain/tasks/v1/event.js';
import { createLogger } from '../shared/logging/index.js';
import { startHostLab, type HostLab } from './support/host-lab.js';
import { backupTask, hostAgentConfig } from './support/host-tasks.js';
import { startStorageHarness, type StorageHarness } from './support/storage-harness.js';
import { testTaskKeys } from './support/task-keys.js';
import { freePort } from './support/nbd-servers.js';
import { waitFor } from './support/deploy-processes.js';

describe('NATS lost in the middle of a backup', { timeout: 120_000 }, () => {
  let env: HostLab;
  let storage: StorageHarness;
  let folder: string;
  let server: ChildProcess | undefined;
  let port: number;
  let agent: RunningHostAgent | undefined;
  let nc: NatsConnection | undefined;
  const namespace = `dcout${randomBytes(3).toString('hex')}`;
  const names = natsNames(namespace);
  const poolId = `pool-${randomUUID().slice(0, 8)}`;
  const events: Event[] = [];

  async function startServer(): Promise<void> {
    const store = join(folder, 'store');
    await mkdir(store, { recursive: true });
    const config = join(folder, 'nats.conf');
    await writeFile(config, `host: 127.0.0.1\nport: ${port}\njetstream { store_dir: ${JSON.stringify(store)} }\n`);
    const child = spawn('nats-server', ['-c', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    server = child;
    let text = '';
    await new Promise<void>((resolve, reject) => {
      child.stderr!.on('data', (d: Buffer) => {
        text += d.toString();
        if (/Server is ready/.test(text)) resolve();
      });
      child.once('exit', (code) => reject(new Error(`nats-server exited (${code}): ${text}`)));
    });
  }

  async function killServer(): Promise<void> {
    const child = server!;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  before(async () => {
    env = await startHostLab();
    storage = await startStorageHarness();
    folder = await mkdtemp(join(tmpdir(), 'dc-nats-outage-'));
    port = await freePort();
    await startServer();
  });
  after(async () => {
    await agent?.stop().catch(() => undefined);
    await nc?.close().catch(() => undefined);
    server?.kill('SIGKILL');
    await storage?.close();
    await env?.close();
    await rm(folder, { recursive: true, force: true });
  });

  it('the agent finishes the backup while NATS is away, and reports it once NATS is back', async () => {
    const section = { servers: [`nats://127.0.0.1:${port}`], namespace, insecure: true };
    nc = await connectNats(natsSchema.parse(section), 'outage-test');
    const jsm = await ensureStreams(nc, names);
    await ensureTaskConsumer(jsm, names, 'host', poolId, { ackWaitSeconds: 5, maxDeliver: 20 });
    const watch = (sub: Subscription) => void (async () => {
      for await (const msg of sub) events.push(decodeEvent(msg.data));
    })();
    watch(nc.subscribe(names.allEvents));
    const config = { ...hostAgentConfig({ lab: env.lab, poolId, namespace, agentId: 'host-site-b', ackWaitSeconds: 5 }), nats: natsSchema.parse(section) };
    agent = await startHostAgent(config, createLogger({ level: 'silent', pretty: false }));
    const webUuid = await env.vmUuid('web');
    await env.admin.setFaults({ slowStreams: { bytesPerSecond: 4 * 1024 * 1024 } });
    const backupId = '20240301T000000Z-away';
    const task = backupTask(poolId, { vmUuid: webUuid, backupId, remoteId: storage.ctx.remoteId, storageAddress: storage.server.address, baseSnapshotVdiByDisk: {}, policyJson: JSON.stringify({ id: randomUUID() }) });
    await publishTask(nc, names.hostTasks(poolId), task, testTaskKeys().signer);
    await waitFor('the export under way', () => events.some((e) => e.taskId === task.taskId && e.body?.$case === 'progress' && e.body.value.phase === 'export' && e.body.value.done > 0), 30_000);
    await killServer();
    await waitFor('the backup committed while NATS is away', async () => (await storage.client.listBackups(webUuid)).some((b) => b.backupId === backupId), 60_000);
    await env.admin.clearFaults();
    assert.equal(events.filter((e) => e.taskId === task.taskId && e.body?.$case === 'result').length, 0, 'no result could be published');
    await startServer();
    const result = await waitFor('the result once NATS is back', () => events.find((e) => e.taskId === task.taskId && e.body?.$case === 'result'), 60_000);
    const value = result.body!.value as TaskResult;
    assert.equal(value.status, TaskStatus.TASK_STATUS_SUCCEEDED, value.error?.message);
    assert.equal(value.output?.$case === 'backup' && value.output.value.report?.redelivered, true, 'reported from the committed backup, not exported again');
    assert.deepEqual((await storage.client.listBackups(webUuid)).map((b) => b.backupId), [backupId], 'one backup');
    const queue = async () => (await jetstreamManager(nc!)).consumers.info(names.tasksStream, names.consumerOf('host', poolId));
    await waitFor('the task acknowledged: it leaves the queue', async () => {
      const info = await queue();
      return info.num_ack_pending === 0 && info.num_pending === 0;
    }, 20_000);
  });
});
