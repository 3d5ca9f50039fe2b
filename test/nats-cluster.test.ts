// NATS as a cluster across sites (docs/multi-site.md, "NATS"): three nats-servers with JetStream,
// one per site, routes between them, the production authorization; the coordinator (nats.replicas
// 3) connected to site A's node with site B's as fallback, a storage agent to site C's. Its
// streams and queues have three copies. Site A's node killed: the coordinator goes on through B,
// tasks still flow. Site B's killed too: no quorum, nothing is lost, the task waits; site A's node
// back: the waiting task goes through. And nats.replicas 3 on a single server is refused with a
// message that says what to run.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ChannelCredentials } from '@grpc/grpc-js';
import { jetstreamManager } from '@nats-io/jetstream';
import * as catalogue from '../coordinator/catalogue/index.js';
import { ControlClient } from '../coordinator/api/control-client.js';
import { Coordinator } from '../coordinator/service/coordinator.js';
import { coordinatorConfigSchema } from '../coordinator/service/coordinator-config.js';
import { startStorageAgent, storageAgentConfigSchema, type RunningStorageAgent } from '../agent/storage/index.js';
import { connectNats, ensureStreams, natsNames, natsSchema } from '../shared/nats/index.js';
import { ConfigError } from '../shared/errors.js';
import { createLogger } from '../shared/logging/index.js';
import { createTestDatabase, type TestDatabase } from './support/pg-database.js';
import { startNatsCluster, type NatsCluster } from './support/nats-cluster.js';
import { NATS_URL } from './support/storage-nats.js';
import { testTaskKeys } from './support/task-keys.js';
import { waitFor } from './support/deploy-processes.js';

const logger = createLogger({ level: 'silent' });

describe('NATS as a three-node cluster, one node per site', { timeout: 180_000 }, () => {
  let folder: string;
  let db: TestDatabase;
  let cluster: NatsCluster;
  let coordinator: Coordinator | undefined;
  let storage: RunningStorageAgent | undefined;
  let client: ControlClient;
  const namespace = `dcclu${randomBytes(3).toString('hex')}`;

  async function scanSucceeds(what: string, timeoutMs = 60_000): Promise<void> {
    const { task } = await client.scanRemote({ name: 'nas', removeGarbage: false, accept: false, graceSeconds: 3600 });
    const done = await waitFor(what, async () => {
      const t = await catalogue.getTask(db.sql, task!.id);
      return t.state === 'succeeded' || t.state === 'failed' ? t : undefined;
    }, timeoutMs);
    assert.equal(done.state, 'succeeded', `${done.errorCode}: ${done.errorMessage}`);
  }

  before(async () => {
    folder = await mkdtemp(join(tmpdir(), 'dc-nats-cluster-'));
    db = await createTestDatabase();
    cluster = await startNatsCluster({ folder: join(folder, 'nats'), namespace, pools: [], remotes: ['nas'] });
    const [a, b, c] = cluster.nodes;
    const socket = join(folder, 'coordinator.sock');
    const config = coordinatorConfigSchema.parse({
      log: { level: 'silent' },
      database: { url: db.url, maxConnections: 4 },
      nats: { servers: [a!.url, b!.url], namespace, seedFile: cluster.seedOf('coordinator'), replicas: 3, ackWaitSeconds: 10 },
      api: { socket },
      storage: { tls: { insecure: true } },
      keys: { signing: testTaskKeys().privatePath },
      retry: { baseMs: 300, maxMs: 2000, jitter: 0 },
      dispatchIntervalMs: 200,
      leadership: { leaseSeconds: 3 },
    });
    coordinator = new Coordinator(config, { logger });
    await coordinator.start();
    storage = await startStorageAgent(storageAgentConfigSchema.parse({
      role: 'storage', agentId: 'storage-nas',
      nats: { servers: [c!.url, b!.url], namespace, seedFile: cluster.seedOf({ role: 'storage', scope: 'nas', agent: 'storage-nas' }) },
      storage: { remoteId: 'nas', root: join(folder, 'nas'), listen: { host: '127.0.0.1', port: 0 }, tls: { insecure: true }, heartbeatSeconds: 60 },
      trust: { coordinatorKey: testTaskKeys().publicPath },
    }), logger);
    client = new ControlClient(`unix:${socket}`, ChannelCredentials.createInsecure());
    await client.addRemote({ name: 'nas', address: storage.address, site: 'c', location: '', description: '' });
  });
  after(async () => {
    client?.close();
    await storage?.stop().catch(() => undefined);
    await coordinator?.stop().catch(() => undefined);
    await cluster?.close();
    await db?.drop();
    if (folder) await rm(folder, { recursive: true, force: true });
  });

  it('the streams and queues have three copies, one per node; a task goes from site A to site C', async () => {
    await scanSucceeds('a scan through the cluster');
    const nc = await connectNats(natsSchema.parse({ servers: [cluster.nodes[1]!.url], namespace, seedFile: cluster.seedOf('coordinator') }), 'probe', { inboxPrefix: natsNames(namespace).coordinatorInbox });
    try {
      const jsm = await jetstreamManager(nc);
      for (const stream of [natsNames(namespace).tasksStream, natsNames(namespace).eventsStream]) {
        const info = await jsm.streams.info(stream);
        assert.equal(info.config.num_replicas, 3);
        const peers = [info.cluster?.leader, ...(info.cluster?.replicas ?? []).map((r) => r.name)].sort();
        assert.deepEqual(peers, ['site-a', 'site-b', 'site-c'], `${stream} is on every node`);
      }
      const queue = await jsm.consumers.info(natsNames(namespace).tasksStream, natsNames(namespace).consumerOf('storage', 'nas'));
      assert.equal((queue.cluster?.replicas ?? []).length, 2, "the storage agent's queue has three copies too");
    } finally {
      await nc.close();
    }
  });

  it("site A's node lost: the coordinator goes on through site B's, tasks still flow", async () => {
    await cluster.nodes[0]!.stop();
    await scanSucceeds('a scan with site A down');
  });

  it("site B's lost too (no quorum): the task waits, nothing lost; site A's back: it goes through", async () => {
    await cluster.nodes[1]!.stop();
    const { task } = await client.scanRemote({ name: 'nas', removeGarbage: false, accept: false, graceSeconds: 3600 });
    // Longer than its three attempts would last if each failed publish counted (300 ms, 600 ms…).
    await new Promise((r) => setTimeout(r, 5000));
    const waiting = await catalogue.getTask(db.sql, task!.id);
    assert.ok(waiting.state === 'queued' || waiting.state === 'dispatched', `nothing runs without a quorum, and the task is not given up: ${waiting.state} ${waiting.errorCode}`);
    await cluster.nodes[0]!.start();
    const done = await waitFor('the waiting scan after site A came back', async () => {
      const t = await catalogue.getTask(db.sql, task!.id);
      return t.state === 'succeeded' || t.state === 'failed' ? t : undefined;
    }, 90_000);
    assert.equal(done.state, 'succeeded', `${done.errorCode}: ${done.errorMessage}`);
  });

  it('nats.replicas 3 on a single server is refused, saying what to run', async () => {
    const names = natsNames(`dcone${randomBytes(3).toString('hex')}`);
    const nc = await connectNats(natsSchema.parse({ servers: [NATS_URL], namespace: names.namespace, insecure: true }), 'single');
    try {
      await assert.rejects(ensureStreams(nc, names, { replicas: 3 }), (e: unknown) => e instanceof ConfigError && /NATS cluster of at least 3 JetStream nodes/.test(e.message));
    } finally {
      await nc.close();
    }
  });
});
