// The lab's own nats-server, secured as production is: JetStream, and one nkey user per process
// (the coordinator, each pool's host agent, each remote's storage agent) with its role's
// permissions — the block `deltachain nats-config` prints (shared/nats). The machine's NATS is
// open to every local user, so the lab does not use it. The server listens on loopback on a
// free port (nats-server picks it: no race for a port) in plaintext, which the NATS client
// allows on loopback only: an nkey proves who connects without sending a secret, and only root
// can read loopback traffic. `tls` turns TLS on (tests of the TLS edge). Layout under `folder`:
// seeds/ (one seed file per process, 0600), authorization.conf, nats-server.conf, store/.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { agentsOf, authorizationBlock, ensureSeedFiles, natsNames, seedFileName, type EventSender, type SeedFile } from '../../shared/nats/index.js';
import { LabProcessError, type ProcessSupervisor, type SupervisedProcess } from './process-supervisor.js';
import { findExecutable } from './probe-services.js';

export interface LabNatsOptions {
  /** Where its config, seeds and store live. */
  folder: string;
  namespace: string;
  pools: readonly string[];
  remotes: readonly string[];
  /** More agents than host-<pool> and storage-<remote> (tests of a second agent). */
  agents?: readonly EventSender[];
  supervisor: ProcessSupervisor;
  /** Server certificate and key (PEM files), and a CA to require client certificates from. */
  tls?: { cert: string; key: string; ca?: string };
  /** Default: nats-server on the PATH. */
  binary?: string;
  /** Process name in the supervisor (its log file). */
  name?: string;
}

export interface LabNats {
  url: string;
  process: SupervisedProcess<number>;
  seeds: SeedFile[];
  /** The seed file of the coordinator or of an agent. */
  seedOf(who: 'coordinator' | EventSender): string;
  authorizationFile: string;
  /** Gives users to more agents (a remote added later), as an operator would: new seeds, a new
   * authorization, the server reloaded. */
  addAgents(agents: readonly EventSender[]): Promise<void>;
}

function serverConfig(o: LabNatsOptions, store: string): string {
  const lines = ['host: 127.0.0.1', 'port: -1', `jetstream { store_dir: ${JSON.stringify(store)} }`, 'include "authorization.conf"'];
  if (o.tls) {
    lines.push('tls {', `  cert_file: ${JSON.stringify(o.tls.cert)}`, `  key_file: ${JSON.stringify(o.tls.key)}`);
    if (o.tls.ca) lines.push(`  ca_file: ${JSON.stringify(o.tls.ca)}`, '  verify: true');
    lines.push('}');
  }
  return `${lines.join('\n')}\n`;
}

/** Writes every agent's seed (kept when present) and the authorization naming them all. */
async function writeUsers(o: LabNatsOptions, agents: readonly EventSender[], authorizationFile: string): Promise<SeedFile[]> {
  const seeds = await ensureSeedFiles(join(o.folder, 'seeds'), agents);
  await writeFile(authorizationFile, authorizationBlock(natsNames(o.namespace), seeds.map((s) => s.user)));
  return seeds;
}

/** Sends SIGHUP and waits for nats-server to say it reloaded its configuration. */
function reload(process: SupervisedProcess<number>): Promise<void> {
  const child = process.child;
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => done(new Error(`nats-server did not reload its configuration within 10 s; see ${process.logFile}`)), 10_000);
    const onData = (chunk: Buffer) => {
      seen += chunk.toString();
      if (/Reloaded server configuration/.test(seen)) done();
    };
    const done = (error?: Error) => {
      clearTimeout(timer);
      child.stderr?.off('data', onData);
      if (error) reject(error);
      else resolve();
    };
    child.stderr?.on('data', onData);
    child.kill('SIGHUP');
  });
}

export async function startLabNats(o: LabNatsOptions): Promise<LabNats> {
  const store = join(o.folder, 'store');
  await mkdir(store, { recursive: true });
  let agents = agentsOf({ pools: o.pools, remotes: o.remotes, agents: o.agents ?? [] });
  const authorizationFile = join(o.folder, 'authorization.conf');
  const seeds = await writeUsers(o, agents, authorizationFile);
  const configFile = join(o.folder, 'nats-server.conf');
  await writeFile(configFile, serverConfig(o, store));
  const binary = o.binary ?? (await findExecutable('nats-server'));
  if (binary === undefined) throw new LabProcessError('the lab runs its own nats-server, and none is installed: sudo apt-get install -y nats-server');
  let port = 0;
  const process = await o.supervisor.start({
    name: o.name ?? 'nats-server',
    command: binary,
    args: ['-c', configFile],
    ready: (line) => {
      const listening = /Listening for client connections on [^\s]+:(\d+)/.exec(line);
      if (listening) port = Number(listening[1]);
      return /Server is ready/.test(line) && port > 0 ? port : undefined;
    },
    timeoutMs: 30_000,
  });
  return {
    url: `nats://127.0.0.1:${process.value}`,
    process,
    seeds,
    seedOf: (who) => join(o.folder, 'seeds', seedFileName(who)),
    authorizationFile,
    async addAgents(more) {
      agents = agentsOf({ pools: [], remotes: [], agents: [...agents, ...more] });
      seeds.splice(0, seeds.length, ...(await writeUsers(o, agents, authorizationFile)));
      await reload(process);
    },
  };
}
