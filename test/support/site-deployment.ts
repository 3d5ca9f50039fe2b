// A whole deployment on the site test bed (site-net.ts), every part a real process in its site's
// network namespace, configured as the lab stack configures it (lab/story's config builders, PKI
// and NATS users): lab pools and their host agents, storage agents, coordinators on one Postgres,
// and one NATS node per site. Layout and what crosses which link: docs/multi-site.md, "Test bed".
//
// Where each part listens and what it dials:
// - a storage agent listens on its site's address; the catalogue registers ONE address for it, a
//   service proxy (SiteNet.serve) that carries each client's connection over the link from the
//   client's site — host agents, coordinators and other storage agents (mirrors) of every site
//   dial the same address, as in production;
// - a NATS node per site, clients on 127.0.0.1:4222 inside the site (each process talks to its own
//   site's node), routes to the other nodes through their service proxies (`no_advertise`: the
//   nodes' own addresses reach nowhere); JetStream replicated on every node (`nats.replicas`);
// - Postgres is the root namespace's, reached through a service proxy standing for `postgresAt`
//   (coordinators of other sites cross their link to it);
// - a lab pool listens on its site's address; only its own site's host agent uses it, and the test
//   (digests, guest writes, restores checked) reaches it there directly, uncounted, as it reaches
//   each coordinator's control API on its local socket.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChannelCredentials } from '@grpc/grpc-js';
import { jetstreamManager } from '@nats-io/jetstream';
import { ControlClient } from '../../coordinator/api/control-client.js';
import { agentsOf, authorizationBlock, connectNats, ensureSeedFiles, natsNames, natsSchema, seedFileName, type EventSender } from '../../shared/nats/index.js';
import { agentEnvironment } from '../../agent/node-flags.js';
import { nodeFlagsFor } from '../../lab/pool/lab-node-flags.js';
import { LabAdminClient } from '../../lab/pool/index.js';
import { coordinatorConfig, hostAgentConfig, labPoolConfig, storageAgentConfig, TEST_TIMINGS, type NatsTarget } from '../../lab/story/lab-configs.js';
import { makeLabSecurity, type LabSecurity } from '../../lab/story/lab-security.js';
import { ProcessSupervisor, type SupervisedProcess } from '../../lab/story/process-supervisor.js';
import { awaitInventory } from '../../lab/story/await-inventory.js';
import type { LabPoolSpec, StackPool } from '../../lab/story/index.js';
import { BIN, LAB_BIN } from './deploy-processes.js';
import type { E2eParts } from './e2e-backups.js';
import { ADMIN_URL, createEmptyDatabase, databaseUrl, dropDatabase } from './pg-database.js';
import { createSites, netnsExec, siteNetUsable, type Endpoint, type SiteNet } from './site-net.js';
import type { LinkShape } from './wan-link.js';

/** Ports inside each site's namespace (each has its own): its NATS node's clients and routes. */
const NATS_CLIENT_PORT = 4222;
const NATS_CLUSTER_PORT = 6222;
const LOG_LEVEL = (process.env.DELTACHAIN_TEST_LOG as 'debug' | undefined) ?? 'info';

export interface SiteDeploymentSpec {
  sites: string[];
  links: { a: string; b: string; shape: LinkShape }[];
  pools: (LabPoolSpec & { site: string })[];
  remotes: { name: string; site: string }[];
  /** Started in this order: the first one migrates the catalogue and takes the lease. */
  coordinators: { name: string; site: string }[];
  /** The site the root namespace's Postgres stands for. */
  postgresAt: string;
  /** The coordinators' `leadership.leaseSeconds`. */
  leaseSeconds: number;
}

export interface DeployedRemote {
  name: string;
  site: string;
  /** The address registered in the catalogue: the remote's service proxy. */
  address: string;
  process: SupervisedProcess<string>;
}

export interface DeployedCoordinator {
  name: string;
  site: string;
  process: SupervisedProcess<number>;
  /** Its control API on its local socket (every coordinator serves it, active or standby). */
  control: ControlClient;
}

export interface SiteDeployment {
  net: SiteNet;
  folder: string;
  /** The catalogue's URL from the root namespace (the test's own view). */
  databaseUrl: string;
  namespace: string;
  pools: Map<string, StackPool>;
  remotes: Map<string, DeployedRemote>;
  coordinators: Map<string, DeployedCoordinator>;
  security: LabSecurity;
  /** The pools and one coordinator's control API, for the end-to-end steps (e2e-backups.ts). */
  parts(coordinator: string): E2eParts;
  /** A running process's last JSON log lines (at most 500). */
  logs(process: string): Record<string, unknown>[];
  /** A process's warnings and errors from its log (for failure messages). */
  warnings(process: string): Promise<string>;
  close(): Promise<void>;
}

interface Ready<T> {
  value: T;
}

/** Starts the sites, their links and every process; registers pools and remotes; waits for the pools' inventory. */
export async function startSiteDeployment(spec: SiteDeploymentSpec): Promise<SiteDeployment> {
  const unusable = await siteNetUsable();
  if (unusable !== undefined) throw new Error(`the site test bed cannot run here: ${unusable}`);
  const folder = await mkdtemp(join(tmpdir(), 'dc-sites-'));
  const database = await createEmptyDatabase('dc_sites');
  const namespace = `sites-${randomBytes(4).toString('hex')}`;
  const supervisor = new ProcessSupervisor(join(folder, 'logs'));
  const controls: ControlClient[] = [];
  let net: SiteNet | undefined;
  const close = async (): Promise<void> => {
    for (const control of controls) control.close();
    await supervisor.stopAll(10_000, spec.sites.map((s) => `nats-${s}`)).catch(() => undefined);
    await net?.close();
    await dropDatabase(database).catch(() => undefined);
    // DELTACHAIN_TEST_KEEP=1 keeps the folder: every process's log under logs/.
    if (process.env.DELTACHAIN_TEST_KEEP === '1') console.log(`# kept ${folder}`);
    else await rm(folder, { recursive: true, force: true });
  };
  try {
    net = await createSites(spec.sites);
    for (const { a, b, shape } of spec.links) net.link(a, b, shape);
    const addresses = net.sites.flatMap((s) => [s.address, s.gateway]);
    const security = await makeLabSecurity(join(folder, 'config', 'tls'), { serverAddresses: addresses });
    const parts = new Parts(spec, net, folder, namespace, supervisor, security);
    await parts.startNats();
    const started = await Promise.allSettled([...spec.remotes.map((r) => parts.startStorage(r)), ...spec.pools.map((p) => parts.startPool(p))]);
    const failure = started.find((r) => r.status === 'rejected');
    if (failure !== undefined) throw failure.reason;
    const postgres = await net.serve('root', Number(new URL(ADMIN_URL).port || 5432), { at: spec.postgresAt });
    const dbUrl = new URL(databaseUrl(database));
    dbUrl.host = `${postgres.host}:${postgres.port}`;
    for (const c of spec.coordinators) controls.push((await parts.startCoordinator(c, dbUrl.toString())).control);
    const control = controls[0]!;
    for (const pool of spec.pools) await control.addPool({ name: pool.name, site: pool.site, description: `lab pool ${pool.name} at site ${pool.site}` });
    for (const remote of parts.remotes.values()) await control.addRemote({ name: remote.name, address: remote.address, site: remote.site, location: join(folder, 'remotes', remote.name), description: `remote at site ${remote.site}` });
    for (const pool of parts.pools.values()) await awaitInventory(control, pool.name, pool.admin);
    const siteNet = net;
    return {
      net: siteNet,
      folder,
      databaseUrl: databaseUrl(database),
      namespace,
      pools: parts.pools,
      remotes: parts.remotes,
      coordinators: parts.coordinators,
      security,
      parts: (name) => ({ pools: parts.pools, control: parts.coordinators.get(name)!.control }),
      logs: (name) => supervisor.running.find((p) => p.name === name)?.logs ?? [],
      async warnings(name) {
        const text = await readFile(join(folder, 'logs', `${name}.log`), 'utf8').catch((error: Error) => error.message);
        return text.split('\n').filter((line) => /"level":(40|50|60)/.test(line)).slice(-20).join('\n');
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Starts each part in its site; knows the addresses and seeds they are given. */
class Parts {
  readonly pools = new Map<string, StackPool>();
  readonly remotes = new Map<string, DeployedRemote>();
  readonly coordinators = new Map<string, DeployedCoordinator>();

  constructor(
    private readonly spec: SiteDeploymentSpec,
    private readonly net: SiteNet,
    private readonly folder: string,
    private readonly namespace: string,
    private readonly supervisor: ProcessSupervisor,
    private readonly security: LabSecurity,
  ) {}

  private get natsFolder(): string {
    return join(this.folder, 'nats');
  }

  /** A process of site `site` reaches NATS at its own site's node. */
  private natsFor(who: 'coordinator' | EventSender): NatsTarget {
    return { servers: [`nats://127.0.0.1:${NATS_CLIENT_PORT}`], namespace: this.namespace, seedFile: join(this.natsFolder, 'seeds', seedFileName(who)) };
  }

  /** One node per site, routes through the service proxies; waits until JetStream answers. */
  async startNats(): Promise<void> {
    const seeds = await ensureSeedFiles(join(this.natsFolder, 'seeds'), agentsOf({ pools: this.spec.pools.map((p) => p.name), remotes: this.spec.remotes.map((r) => r.name), agents: [] }));
    await writeFile(join(this.natsFolder, 'authorization.conf'), authorizationBlock(natsNames(this.namespace), seeds.map((s) => s.user)));
    const routes = new Map<string, Endpoint>();
    for (const site of this.spec.sites) routes.set(site, await this.net.serve(site, NATS_CLUSTER_PORT));
    await Promise.all(this.spec.sites.map((site) => this.startNatsNode(site, [...routes].filter(([s]) => s !== site).map(([, e]) => e))));
    await this.awaitJetStream();
  }

  private async startNatsNode(site: string, routes: Endpoint[]): Promise<void> {
    const dir = join(this.natsFolder, site);
    await mkdir(join(dir, 'store'), { recursive: true });
    const config = [
      `server_name: ${site}`,
      `host: 0.0.0.0`,
      `port: ${NATS_CLIENT_PORT}`,
      `jetstream { store_dir: ${JSON.stringify(join(dir, 'store'))} }`,
      `cluster { name: deltachain, host: 0.0.0.0, port: ${NATS_CLUSTER_PORT}, no_advertise: true, routes: [${routes.map((r) => JSON.stringify(`nats-route://${r.host}:${r.port}`)).join(', ')}] }`,
      'include "../authorization.conf"',
    ].join('\n');
    await writeFile(join(dir, 'nats-server.conf'), `${config}\n`);
    const [command, args] = netnsExec(this.net.site(site).netns, 'nats-server', ['-c', join(dir, 'nats-server.conf')]);
    await this.supervisor.start({ name: `nats-${site}`, command, args, ready: (line) => (/Server is ready/.test(line) ? true : undefined), timeoutMs: 30_000 });
  }

  /** Until the cluster's JetStream has a meta leader (asked at the first site's node, from the root namespace). */
  private async awaitJetStream(timeoutMs = 30_000): Promise<void> {
    const server = `nats://${this.net.sites[0]!.address}:${NATS_CLIENT_PORT}`;
    const config = natsSchema.parse({ servers: [server], namespace: this.namespace, seedFile: this.natsFor('coordinator').seedFile, insecure: true });
    const nc = await connectNats(config, 'deltachain-sites-probe', { inboxPrefix: natsNames(this.namespace).coordinatorInbox });
    const deadline = Date.now() + timeoutMs;
    try {
      for (;;) {
        try {
          await (await jetstreamManager(nc)).getAccountInfo();
          return;
        } catch (error) {
          if (Date.now() > deadline) throw new Error(`the sites' JetStream not ready within ${timeoutMs} ms: ${(error as Error).message}`);
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    } finally {
      await nc.close();
    }
  }

  private async writeConfig(name: string, config: Record<string, unknown>): Promise<string> {
    const dir = join(this.folder, 'config');
    await mkdir(dir, { recursive: true });
    const path = join(dir, `${name}.json`);
    await writeFile(path, `${JSON.stringify(config, null, 2)}\n`);
    return path;
  }

  /** `deltachain ARGS` (or `deltachain-lab ARGS`) in site `site`. */
  private async start<T>(site: string, name: string, args: string[], isReady: (json: Record<string, unknown>) => Ready<T> | undefined, bin = BIN): Promise<SupervisedProcess<T>> {
    const agent = args[0] === 'agent';
    const [command, argv] = netnsExec(this.net.site(site).netns, process.execPath, [...nodeFlagsFor(args), bin, ...args]);
    const started = await this.supervisor.start({ name, command, args: argv, ...(agent ? { env: agentEnvironment() } : {}), ready: (_line, json) => (json === undefined ? undefined : isReady(json)) });
    return Object.assign(started, { value: started.value.value });
  }

  async startStorage(r: { name: string; site: string }): Promise<DeployedRemote> {
    const site = this.net.site(r.site);
    const dataPlane = { tls: await this.security.storageTls(r.name), coordinatorKey: this.security.coordinatorKey };
    const config = storageAgentConfig({ remote: r.name, root: join(this.folder, 'remotes', r.name), nats: this.natsFor({ role: 'storage', scope: r.name, agent: `storage-${r.name}` }), timings: TEST_TIMINGS, logLevel: LOG_LEVEL, dataPlane });
    (config.storage as Record<string, unknown>).listen = { host: site.address, port: 0 };
    const path = await this.writeConfig(`storage-${r.name}`, config);
    const process = await this.start(r.site, `storage-${r.name}`, ['agent', '--config', path], (json) => (json.msg === 'storage agent ready' ? { value: String(json.address) } : undefined));
    const service = await this.net.serve(r.site, Number(process.value.split(':').pop()));
    const remote = { name: r.name, site: r.site, address: `${service.host}:${service.port}`, process };
    this.remotes.set(r.name, remote);
    return remote;
  }

  async startPool(spec: LabPoolSpec & { site: string }): Promise<StackPool> {
    const labConfig = { ...labPoolConfig({ state: join(this.folder, 'pools', spec.name), fleet: spec.fleet, seed: spec.seed, faults: spec.faults ?? {} }), host: this.net.site(spec.site).address };
    const labPath = await this.writeConfig(`lab-pool-${spec.name}`, labConfig);
    const lab = await this.start(spec.site, `lab-pool-${spec.name}`, ['pool', '--config', labPath, '--json', '--log-level', 'warn'], (json) => (typeof json.urlWithCredentials === 'string' ? { value: json as { url: string; user: string; password: string; urlWithCredentials: string } } : undefined), LAB_BIN);
    const { url, user, password, urlWithCredentials } = lab.value;
    const dataPlane = { tls: await this.security.hostTls(spec.name), coordinatorKey: this.security.coordinatorKey };
    const hostConfig = hostAgentConfig({ pool: spec.name, xapi: { url, user, password }, nats: this.natsFor({ role: 'host', scope: spec.name, agent: `host-${spec.name}` }), timings: TEST_TIMINGS, logLevel: LOG_LEVEL, dataPlane });
    const hostPath = await this.writeConfig(`host-${spec.name}`, hostConfig);
    const host = await this.start(spec.site, `host-${spec.name}`, ['agent', '--config', hostPath], (json) => (json.msg === 'host agent ready' ? { value: true } : undefined));
    const pool = { name: spec.name, url, user, password, urlWithCredentials, admin: new LabAdminClient(url, { user, password }), process: lab, host };
    this.pools.set(spec.name, pool);
    return pool;
  }

  async startCoordinator(c: { name: string; site: string }, databaseUrl: string): Promise<DeployedCoordinator> {
    const socket = join(this.folder, 'run', `${c.name}.sock`);
    await mkdir(join(this.folder, 'run'), { recursive: true });
    const dataPlane = { tls: this.security.coordinatorTls, signingKey: this.security.signingKey, digestKey: this.security.digestKey };
    const api = { socket, listen: '127.0.0.1:0', tls: this.security.apiTls };
    const config = coordinatorConfig({ databaseUrl, api, nats: this.natsFor('coordinator'), timings: TEST_TIMINGS, logLevel: LOG_LEVEL, dataPlane });
    (config.nats as Record<string, unknown>).replicas = this.spec.sites.length;
    config.leadership = { leaseSeconds: this.spec.leaseSeconds, name: c.name };
    const path = await this.writeConfig(c.name, config);
    const process = await this.start(c.site, c.name, ['coordinator', '--config', path], (json) => (json.msg === 'coordinator started' ? { value: Number(json.port) } : undefined));
    const coordinator = { name: c.name, site: c.site, process, control: new ControlClient(`unix:${socket}`, ChannelCredentials.createInsecure()) };
    this.coordinators.set(c.name, coordinator);
    return coordinator;
  }
}
