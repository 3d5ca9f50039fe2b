// The whole system on one machine, every part a real process started the way an operator would
// (`bin/lab.mjs pool`, `bin/deltachain.mjs agent --config | coordinator --config`): lab
// pools, one storage agent per remote, one host agent per pool, the coordinator — on a
// Postgres database the caller owns, and NATS of its own (lab-nats.ts: a nats-server with one
// nkey user per process and each role's permissions) — started all at once (a host agent
// as soon as its lab pool is up). Once up, the pools and remotes (with their storage agents'
// addresses) are registered through the control API and the pools' VMs are reported to the
// catalogue. The data plane runs with mutual TLS and the coordinator's grants (lab-security.ts);
// the control API on a local socket (run/coordinator.sock, the CLI's DELTACHAIN_SOCKET) and over
// TCP with mutual TLS, where the lab itself calls with its operator certificate. Layout under
// `root`: config/ (the JSON configs; config/tls/ the CA, certificates and keys), logs/ (one log
// per process), run/ (the control socket),
// nats/ (the server's config, authorization, seeds and store), pools/<pool>/ (lab pool state:
// records and disks), remotes/<remote>/ (the remote's files). The stack is up when the
// catalogue lists every pool's VMs, as the host agents report them.
import { writeFile, mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { channelCredentials } from '../../shared/grpc/credentials.js';
import { ControlClient } from '../../coordinator/api/control-client.js';
import { LabAdminClient } from '../pool/index.js';
import type { FleetInput } from '../pool/config/lab-config.js';
import { coordinatorConfig, hostAgentConfig, labPoolConfig, storageAgentConfig, type LabTimings, type LogLevel, type NatsTarget } from './lab-configs.js';
import { startLabNats, type LabNats } from './lab-nats.js';
import { ProcessSupervisor, type SupervisedProcess } from './process-supervisor.js';
import { makeLabSecurity, type LabSecurity } from './lab-security.js';
import { awaitInventory } from './await-inventory.js';
import { agentEnvironment } from '../../agent/node-flags.js';
import { nodeFlagsFor } from '../pool/lab-node-flags.js';

const BIN = fileURLToPath(new URL('../../bin/deltachain.mjs', import.meta.url));
const LAB_BIN = fileURLToPath(new URL('../../bin/lab.mjs', import.meta.url));

/** A fleet as a lab pool's config file gives it (defaults filled by the lab pool). */
export type { FleetInput };

export interface LabPoolSpec {
  /** The pool's name in the coordinator (and its host agent's pool id). */
  name: string;
  fleet: FleetInput;
  /** Seed of the fleet's disk content. */
  seed: number;
  /** Faults armed at start (docs/lab-pool.md). */
  faults?: Record<string, unknown>;
  /** The host agent's deadline of a unary call to a storage agent, ms (default 60 s). */
  storageCallTimeoutMs?: number;
}

export interface LabStackOptions {
  root: string;
  databaseUrl: string;
  /** The namespace of the stack's subjects and streams (on the stack's own nats-server). */
  nats: { namespace: string };
  /** Control API address over TCP (mutual TLS), e.g. "127.0.0.1:0". */
  coordinatorListen: string;
  pools: LabPoolSpec[];
  remotes: string[];
  timings: LabTimings;
  logLevel: LogLevel;
  /** Hears of a process that exits on its own. */
  onExit?: (name: string, code: number | null, signal: string | null) => void;
}

export interface StackPool {
  name: string;
  /** XAPI URL without credentials, and the credentials. */
  url: string;
  user: string;
  password: string;
  urlWithCredentials: string;
  admin: LabAdminClient;
  process: SupervisedProcess;
  host: SupervisedProcess;
}

/** A process's /healthz and /metrics, "host:port". */
export interface MetricsEndpoint {
  name: string;
  address: string;
}

export interface StackRemote {
  name: string;
  root: string;
  /** The storage agent's gRPC address. */
  address: string;
  process: SupervisedProcess;
}

export interface LabStack {
  options: LabStackOptions;
  supervisor: ProcessSupervisor;
  pools: Map<string, StackPool>;
  remotes: Map<string, StackRemote>;
  coordinator: SupervisedProcess<number>;
  coordinatorAddress: string;
  /** The coordinator's local control socket (DELTACHAIN_SOCKET for the CLI). */
  coordinatorSocket: string;
  /** The stack's own nats-server: its URL, its users' seeds. */
  nats: LabNats;
  /** Where each process serves /healthz and /metrics. */
  metrics: MetricsEndpoint[];
  control: ControlClient;
  /** The data plane's CA, certificates and keys (e.g. `coordinatorTls` to list a remote as the coordinator does). */
  security: LabSecurity;
  /** Waits until the catalogue lists every VM of every pool (the host agents' inventory). */
  awaitInventory(): Promise<void>;
  /** Starts a storage agent for another remote (or the same remote on another root), or again
   * after it was stopped — on `port` to be reachable where it was. */
  startStorage(remote: string, root?: string, port?: number): Promise<StackRemote>;
  /** Stops every process (newest first) and closes connections. The database and streams stay. */
  stop(): Promise<void>;
}

interface LabBanner {
  url: string;
  urlWithCredentials: string;
  user: string;
  password: string;
  metrics?: string;
}

/** Readiness values carry the process's observability address (its ready log line names it). */
interface Ready<T> {
  value: T;
  metrics: string | undefined;
}

function ready<T>(value: T, json: Record<string, unknown>): Ready<T> {
  return { value, metrics: typeof json.observability === 'string' ? json.observability : undefined };
}

/** Starts the stack's processes; `startAll` runs them concurrently (a host agent after its lab pool). */
class StackProcesses {
  readonly supervisor: ProcessSupervisor;
  readonly remotes = new Map<string, StackRemote>();
  readonly pools = new Map<string, StackPool>();
  readonly metrics: MetricsEndpoint[] = [];
  private natsServer: LabNats | undefined;

  constructor(
    private readonly options: LabStackOptions,
    readonly security: LabSecurity,
  ) {
    this.supervisor = new ProcessSupervisor(join(options.root, 'logs'), options.onExit);
  }

  get nats(): LabNats {
    if (this.natsServer === undefined) throw new Error('the lab\'s nats-server is not started');
    return this.natsServer;
  }

  /** The lab's nats-server with a user per process of the stack (first of all). */
  async startNats(): Promise<LabNats> {
    const o = this.options;
    this.natsServer = await startLabNats({ folder: join(o.root, 'nats'), namespace: o.nats.namespace, pools: o.pools.map((p) => p.name), remotes: o.remotes, supervisor: this.supervisor });
    return this.natsServer;
  }

  /** How `who` reaches NATS: the stack's server, the namespace, its seed. */
  private natsFor(who: Parameters<LabNats['seedOf']>[0]): NatsTarget {
    return { servers: [this.nats.url], namespace: this.options.nats.namespace, seedFile: this.nats.seedOf(who) };
  }

  private async writeConfig(name: string, config: Record<string, unknown>): Promise<string> {
    const folder = join(this.options.root, 'config');
    await mkdir(folder, { recursive: true });
    const path = join(folder, `${name}.json`);
    await writeFile(path, `${JSON.stringify(config, null, 2)}\n`);
    return path;
  }

  /** Starts `deltachain ARGS` (or `deltachain-lab ARGS` from `bin`); records where it serves its metrics. */
  private async deltachain<T>(name: string, args: string[], isReady: (json: Record<string, unknown>) => Ready<T> | undefined, bin = BIN): Promise<SupervisedProcess<T>> {
    const started = await this.supervisor.start({ name, command: process.execPath, args: [...nodeFlagsFor(args), bin, ...args], ...(args[0] === 'agent' ? { env: agentEnvironment() } : {}), ready: (_line, json) => (json === undefined ? undefined : isReady(json)) });
    if (started.value.metrics !== undefined) this.metrics.push({ name, address: started.value.metrics });
    return Object.assign(started, { value: started.value.value });
  }

  async startStorage(remote: string, root = join(this.options.root, 'remotes', remote), port?: number): Promise<StackRemote> {
    const o = this.options;
    const agent = { role: 'storage', scope: remote, agent: `storage-${remote}` } as const;
    // A remote the stack did not start with gets its NATS user the way an operator adds one.
    if (!this.nats.seeds.some((s) => s.user.role === 'agent' && s.user.sender.scope === remote && s.user.sender.role === 'storage')) await this.nats.addAgents([agent]);
    const dataPlane = { tls: await this.security.storageTls(remote), coordinatorKey: this.security.coordinatorKey };
    const path = await this.writeConfig(`storage-${remote}`, storageAgentConfig({ remote, root, nats: this.natsFor(agent), timings: o.timings, logLevel: o.logLevel, dataPlane, ...(port === undefined ? {} : { port }) }));
    const process = await this.deltachain(`storage-${remote}`, ['agent', '--config', path], (json) => (json.msg === 'storage agent ready' ? ready(String(json.address), json) : undefined));
    const started = { name: remote, root, address: process.value, process };
    this.remotes.set(remote, started);
    return started;
  }

  async startPool(spec: LabPoolSpec): Promise<StackPool> {
    const o = this.options;
    const labPath = await this.writeConfig(`lab-pool-${spec.name}`, labPoolConfig({ state: join(o.root, 'pools', spec.name), fleet: spec.fleet, seed: spec.seed, faults: spec.faults ?? {} }));
    const lab = await this.deltachain(`lab-pool-${spec.name}`, ['pool', '--config', labPath, '--json', '--log-level', 'warn'], (json) => (typeof json.urlWithCredentials === 'string' ? { value: json as unknown as LabBanner, metrics: (json as unknown as LabBanner).metrics } : undefined), LAB_BIN);
    const { url, user, password, urlWithCredentials } = lab.value;
    const dataPlane = { tls: await this.security.hostTls(spec.name), coordinatorKey: this.security.coordinatorKey };
    const hostConfig = hostAgentConfig({ pool: spec.name, xapi: { url, user, password }, nats: this.natsFor({ role: 'host', scope: spec.name, agent: `host-${spec.name}` }), timings: o.timings, logLevel: o.logLevel, dataPlane, ...(spec.storageCallTimeoutMs === undefined ? {} : { storageCallTimeoutMs: spec.storageCallTimeoutMs }) });
    const hostPath = await this.writeConfig(`host-${spec.name}`, hostConfig);
    const host = await this.deltachain(`host-${spec.name}`, ['agent', '--config', hostPath], (json) => (json.msg === 'host agent ready' ? ready(true, json) : undefined));
    const pool = { name: spec.name, url, user, password, urlWithCredentials, admin: new LabAdminClient(url, { user, password }), process: lab, host };
    this.pools.set(spec.name, pool);
    return pool;
  }

  async startCoordinator(): Promise<SupervisedProcess<number>> {
    const o = this.options;
    const dataPlane = { tls: this.security.coordinatorTls, signingKey: this.security.signingKey, digestKey: this.security.digestKey };
    const api = { socket: coordinatorSocketOf(o.root), listen: o.coordinatorListen, tls: this.security.apiTls };
    const path = await this.writeConfig('coordinator', coordinatorConfig({ databaseUrl: o.databaseUrl, api, nats: this.natsFor('coordinator'), timings: o.timings, logLevel: o.logLevel, dataPlane }));
    return this.deltachain('coordinator', ['coordinator', '--config', path], (json) => (json.msg === 'coordinator started' ? ready(Number(json.port), json) : undefined));
  }

  /** NATS first, then everything at once; when one part fails, waits for the others to settle, then rethrows. */
  async startAll(): Promise<SupervisedProcess<number>> {
    await this.startNats();
    const coordinator = this.startCoordinator();
    const results = await Promise.allSettled([coordinator, ...this.options.pools.map((p) => this.startPool(p)), ...this.options.remotes.map((r) => this.startStorage(r))]);
    const failure = results.find((r) => r.status === 'rejected');
    if (failure !== undefined) throw failure.reason;
    return coordinator;
  }
}

/** Where the lab's coordinator serves its control socket. */
export function coordinatorSocketOf(root: string): string {
  return resolve(root, 'run', 'coordinator.sock');
}

export async function startLabStack(options: LabStackOptions): Promise<LabStack> {
  const processes = new StackProcesses(options, await makeLabSecurity(join(options.root, 'config', 'tls')));
  let control: ControlClient | undefined;
  try {
    const coordinator = await processes.startAll();
    const host = options.coordinatorListen.replace(/:\d+$/, '');
    const coordinatorAddress = `${host === '0.0.0.0' ? '127.0.0.1' : host}:${coordinator.value}`;
    control = new ControlClient(coordinatorAddress, channelCredentials({ ...processes.security.operatorTls, insecure: false }, { role: 'coordinator', name: '' }));
    for (const pool of options.pools) await control.addPool({ name: pool.name, site: 'lab', description: `lab pool ${pool.name}` });
    for (const remote of options.remotes) {
      const started = processes.remotes.get(remote)!;
      await control.addRemote({ name: remote, address: started.address, site: 'lab', location: started.root, description: `local remote ${remote}` });
    }
    const stack = assemble(options, processes, coordinator, coordinatorAddress, control);
    await stack.awaitInventory();
    return stack;
  } catch (error) {
    control?.close();
    await processes.supervisor.stopAll();
    throw error;
  }
}

function assemble(options: LabStackOptions, processes: StackProcesses, coordinator: SupervisedProcess<number>, coordinatorAddress: string, control: ControlClient): LabStack {
  return {
    options,
    supervisor: processes.supervisor,
    pools: processes.pools,
    remotes: processes.remotes,
    coordinator,
    coordinatorAddress,
    coordinatorSocket: coordinatorSocketOf(options.root),
    nats: processes.nats,
    metrics: processes.metrics,
    control,
    security: processes.security,
    async awaitInventory() {
      for (const pool of processes.pools.values()) await awaitInventory(control, pool.name, pool.admin);
    },
    startStorage: (remote, root, port) => processes.startStorage(remote, root, port),
    async stop() {
      control.close();
      // NATS last: the agents and the coordinator hand back their work over it as they stop.
      await processes.supervisor.stopAll(undefined, [processes.nats.process.name]);
    },
  };
}
