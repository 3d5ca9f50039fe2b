// The whole system on one machine, every part a real `deltachain` process started the way an
// operator would (`bin/deltachain.mjs lab pool | agent --config | coordinator --config`): lab
// pools, one storage agent per remote, one host agent per pool, the coordinator — on a
// Postgres database and a NATS namespace the caller owns. Once up, the pools and remotes are
// registered through the control API and the pools' VMs are reported to the catalogue.
// Layout under `root`: config/ (the JSON configs), logs/ (one log per process), pools/<pool>/
// (lab pool state: records and disks), remotes/<remote>/ (the remote's files).
import { writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ChannelCredentials } from '@grpc/grpc-js';
import { ControlClient } from '../../coordinator/api/control-client.js';
import { connectCatalog, type Catalog } from '../../coordinator/catalog/index.js';
import { LabAdminClient, type FleetConfig } from '../lab/index.js';
import { coordinatorConfig, hostAgentConfig, labPoolConfig, storageAgentConfig, type LabTimings, type LogLevel, type NatsTarget } from './lab-configs.js';
import { ProcessSupervisor, type SupervisedProcess } from './process-supervisor.js';
import { syncInventory, type InventoryVm } from './inventory-sync.js';

const BIN = fileURLToPath(new URL('../../bin/deltachain.mjs', import.meta.url));

export interface LabPoolSpec {
  /** The pool's name in the coordinator (and its host agent's pool id). */
  name: string;
  fleet: Partial<FleetConfig>;
  /** Seed of the fleet's disk content. */
  seed: number;
}

export interface LabStackOptions {
  root: string;
  databaseUrl: string;
  nats: NatsTarget;
  /** Control API address, e.g. "127.0.0.1:0". */
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
  control: ControlClient;
  /** A catalogue connection (inventory reports, tests' queries). */
  sql: Catalog;
  /** Reports every pool's VMs to the catalogue; returns them per pool. */
  syncInventory(): Promise<Map<string, InventoryVm[]>>;
  /** Starts a storage agent for another remote (or the same remote on another root). */
  startStorage(remote: string, root?: string): Promise<StackRemote>;
  /** Stops every process (newest first) and closes connections. The database and streams stay. */
  stop(): Promise<void>;
}

interface LabBanner {
  url: string;
  urlWithCredentials: string;
  user: string;
  password: string;
}

export async function startLabStack(options: LabStackOptions): Promise<LabStack> {
  const configs = join(options.root, 'config');
  await mkdir(configs, { recursive: true });
  const supervisor = new ProcessSupervisor(join(options.root, 'logs'), options.onExit);
  const writeConfig = async (name: string, config: Record<string, unknown>): Promise<string> => {
    const path = join(configs, `${name}.json`);
    await writeFile(path, `${JSON.stringify(config, null, 2)}\n`);
    return path;
  };
  const remotes = new Map<string, StackRemote>();
  const startStorage = async (remote: string, root = join(options.root, 'remotes', remote)): Promise<StackRemote> => {
    const path = await writeConfig(`storage-${remote}`, storageAgentConfig({ remote, root, nats: options.nats, timings: options.timings, logLevel: options.logLevel }));
    const process = await supervisor.start({
      name: `storage-${remote}`,
      command: globalThis.process.execPath,
      args: [BIN, 'agent', '--config', path],
      ready: (_line, json) => (json?.msg === 'storage agent ready' ? String(json.address) : undefined),
    });
    const started = { name: remote, root, address: process.value, process };
    remotes.set(remote, started);
    return started;
  };
  let sql: Catalog | undefined;
  let control: ControlClient | undefined;
  try {
    const labs = await Promise.all(options.pools.map(async (pool) => startPoolProcess(supervisor, pool, await writeConfig(`lab-pool-${pool.name}`, labPoolConfig({ state: join(options.root, 'pools', pool.name), fleet: pool.fleet, seed: pool.seed })))));
    await Promise.all(options.remotes.map((remote) => startStorage(remote)));
    const coordinatorPath = await writeConfig('coordinator', coordinatorConfig({ databaseUrl: options.databaseUrl, listen: options.coordinatorListen, nats: options.nats, timings: options.timings, logLevel: options.logLevel }));
    const coordinator = await supervisor.start({
      name: 'coordinator',
      command: process.execPath,
      args: [BIN, 'coordinator', '--config', coordinatorPath],
      ready: (_line, json) => (json?.msg === 'coordinator started' ? Number(json.port) : undefined),
    });
    const pools = new Map<string, StackPool>();
    await Promise.all(
      options.pools.map(async (spec, i) => {
        const lab = labs[i]!;
        const config = hostAgentConfig({ pool: spec.name, xapi: { url: lab.value.url, user: lab.value.user, password: lab.value.password }, nats: options.nats, timings: options.timings, logLevel: options.logLevel });
        const host = await supervisor.start({
          name: `host-${spec.name}`,
          command: process.execPath,
          args: [BIN, 'agent', '--config', await writeConfig(`host-${spec.name}`, config)],
          ready: (_line, json) => (json?.msg === 'host agent ready' ? true : undefined),
        });
        const { url, user, password, urlWithCredentials } = lab.value;
        pools.set(spec.name, { name: spec.name, url, user, password, urlWithCredentials, admin: new LabAdminClient(url, { user, password }), process: lab, host });
      }),
    );
    const host = options.coordinatorListen.replace(/:\d+$/, '');
    const coordinatorAddress = `${host === '0.0.0.0' ? '127.0.0.1' : host}:${coordinator.value}`;
    control = new ControlClient(coordinatorAddress, ChannelCredentials.createInsecure());
    for (const pool of options.pools) await control.addPool({ name: pool.name, site: 'lab', description: `lab pool ${pool.name}` });
    for (const remote of options.remotes) await control.addRemote({ name: remote, site: 'lab', location: remotes.get(remote)!.root, description: `local remote ${remote}` });
    sql = connectCatalog(options.databaseUrl, { maxConnections: 2, applicationName: 'deltachain-lab' });
    const catalogue = sql;
    const client = control;
    const stack: LabStack = {
      options,
      supervisor,
      pools,
      remotes,
      coordinator,
      coordinatorAddress,
      control: client,
      sql: catalogue,
      async syncInventory() {
        const out = new Map<string, InventoryVm[]>();
        for (const pool of pools.values()) out.set(pool.name, await syncInventory(catalogue, pool.name, pool.admin));
        return out;
      },
      startStorage,
      async stop() {
        client.close();
        await supervisor.stopAll();
        await catalogue.end({ timeout: 5 });
      },
    };
    await stack.syncInventory();
    return stack;
  } catch (error) {
    control?.close();
    await supervisor.stopAll();
    await sql?.end({ timeout: 5 });
    throw error;
  }
}

function startPoolProcess(supervisor: ProcessSupervisor, pool: LabPoolSpec, configPath: string): Promise<SupervisedProcess<LabBanner>> {
  return supervisor.start({
    name: `lab-pool-${pool.name}`,
    command: process.execPath,
    args: [BIN, 'lab', 'pool', '--config', configPath, '--json', '--log-level', 'warn'],
    ready: (_line, json) => (json !== undefined && typeof json.urlWithCredentials === 'string' ? (json as unknown as LabBanner) : undefined),
  });
}
