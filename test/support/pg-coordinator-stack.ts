// The whole coordinator side for end-to-end tests, all real and all its own: a fresh Postgres
// database, a NATS namespace (own streams), storage agents (in this process) on temporary
// remotes, the coordinator run as a `deltachain coordinator` process (so a test can SIGKILL it)
// or in this process (quicker to start), a control API client on its local socket, and a
// stand-in host agent.
// The data plane runs as in production: mutual TLS with role certificates and the coordinator's
// grants (the lab's security material, lab/story/lab-security.ts).
// Everything is removed by close().
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ChannelCredentials } from '@grpc/grpc-js';
import { channelCredentials } from '../../shared/grpc/credentials.js';
import { ControlClient } from '../../coordinator/api/control-client.js';
import { coordinatorConfigSchema, type CoordinatorConfig } from '../../coordinator/service/coordinator-config.js';
import { createTestDatabase, type TestDatabase } from './pg-database.js';
import { startStorageAgent, storageAgentConfigSchema, type RunningStorageAgent } from '../../agent/storage/index.js';
import { Coordinator } from '../../coordinator/service/coordinator.js';
import { createLogger } from '../../shared/logging/index.js';
import { startTestNats, testNatsSection, type TestNats } from './storage-nats.js';
import { StandInHostAgent } from './pg-stand-in-host-agent.js';
import { makeLabSecurity, type LabSecurity } from '../../lab/story/lab-security.js';

const BIN = fileURLToPath(new URL('../../bin/deltachain.mjs', import.meta.url));

export interface CoordinatorProcess {
  child: ChildProcess;
  port: number;
  logs: Record<string, unknown>[];
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export interface CoordinatorStack {
  folder: string;
  db: TestDatabase;
  nats: TestNats;
  storage: Map<string, RunningStorageAgent>;
  host: StandInHostAgent;
  /** The data plane's CA, certificates and the coordinator's signing key. */
  security: LabSecurity;
  coordinator: CoordinatorProcess | undefined;
  inProcess: Coordinator | undefined;
  client: ControlClient | undefined;
  /** Starts a storage agent for a remote on its own root under the stack's folder (or `root`). */
  startStorage(remote: string, root?: string): Promise<RunningStorageAgent>;
  /** The coordinator's control socket (the CLI's DELTACHAIN_SOCKET). */
  socket: string;
  /** The config the coordinator runs with (same NATS namespace; database and control socket as given). */
  coordinatorConfig(databaseUrl?: string, socket?: string): CoordinatorConfig;
  /**
   * Starts (or restarts) the coordinator on `databaseUrl` (default: the stack's database), as a
   * `deltachain coordinator` process, or in this process with `inProcess`.
   */
  startCoordinator(databaseUrl?: string, options?: { inProcess?: boolean }): Promise<ControlClient>;
  stopCoordinator(signal?: NodeJS.Signals): Promise<void>;
  close(): Promise<void>;
}

export async function spawnCoordinator(configPath: string, timeoutMs = 30_000): Promise<CoordinatorProcess> {
  const child = spawn(process.execPath, [BIN, 'coordinator', '--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`coordinator not started within ${timeoutMs} ms: ${stderr}`)), timeoutMs);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        logs.push(entry);
        if (entry.msg === 'coordinator started') (clearTimeout(timer), resolve(Number(entry.port)));
      } catch {
        // not a log line
      }
    });
    void exited.then(() => (clearTimeout(timer), reject(new Error(`coordinator exited before it started: ${stderr}`))));
  });
  return {
    child,
    port,
    logs,
    async kill(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await exited;
    },
  };
}

export async function startCoordinatorStack(pool = 'lab'): Promise<CoordinatorStack> {
  const folder = await mkdtemp(join(tmpdir(), 'dc-coordinator-'));
  const db = await createTestDatabase();
  const nats = await startTestNats();
  const security = await makeLabSecurity(join(folder, 'tls'));
  const host = new StandInHostAgent(nats.nc, nats.names, pool, channelCredentials({ ...(await security.hostTls(pool)), insecure: false }));
  await host.start();
  const stack: CoordinatorStack = {
    folder,
    db,
    nats,
    storage: new Map(),
    host,
    security,
    coordinator: undefined,
    inProcess: undefined,
    client: undefined,
    socket: join(folder, 'coordinator.sock'),
    async startStorage(remote, root) {
      const config = storageAgentConfigSchema.parse({
        role: 'storage',
        agentId: `storage-${remote}`,
        nats: testNatsSection(nats.namespace),
        storage: { remoteId: remote, root: root ?? join(folder, `remote-${remote}`), listen: { host: '127.0.0.1', port: 0 }, tls: await security.storageTls(remote), heartbeatSeconds: 60 },
        trust: { coordinatorKey: security.coordinatorKey },
      });
      const agent = await startStorageAgent(config, createLogger({ level: 'silent' }));
      stack.storage.set(remote, agent);
      return agent;
    },
    coordinatorConfig(databaseUrl = db.url, socket = stack.socket) {
      return coordinatorConfigSchema.parse({
        log: { level: 'info', pretty: false },
        database: { url: databaseUrl, maxConnections: 4 },
        nats: testNatsSection(nats.namespace, { ackWaitSeconds: 10 }),
        api: { socket },
        storage: { tls: security.coordinatorTls },
        keys: { signing: security.signingKey, digest: security.digestKey },
        retry: { baseMs: 300, maxMs: 2000, jitter: 0 },
        tasks: { backup: { timeoutSeconds: 120 } },
        dispatchIntervalMs: 200,
        // A coordinator SIGKILLed and started again waits for its predecessor's lease to expire.
        leadership: { leaseSeconds: 3 },
      });
    },
    async startCoordinator(databaseUrl = db.url, options = {}) {
      const config = stack.coordinatorConfig(databaseUrl);
      if (options.inProcess) {
        stack.inProcess = new Coordinator(config, { logger: createLogger({ level: 'silent' }) });
        await stack.inProcess.start();
      } else {
        const path = join(folder, 'coordinator.json');
        await writeFile(path, JSON.stringify(config, null, 2));
        stack.coordinator = await spawnCoordinator(path);
      }
      stack.client?.close();
      stack.client = new ControlClient(`unix:${stack.socket}`, ChannelCredentials.createInsecure());
      return stack.client;
    },
    async stopCoordinator(signal = 'SIGTERM') {
      stack.client?.close();
      stack.client = undefined;
      await stack.coordinator?.kill(signal);
      stack.coordinator = undefined;
      await stack.inProcess?.stop();
      stack.inProcess = undefined;
    },
    async close() {
      await stack.stopCoordinator().catch(() => undefined);
      await host.stop().catch(() => undefined);
      for (const agent of stack.storage.values()) await agent.stop().catch(() => undefined);
      await nats.close().catch(() => undefined);
      await db.drop().catch(() => undefined);
      await rm(folder, { recursive: true, force: true });
    },
  };
  return stack;
}
