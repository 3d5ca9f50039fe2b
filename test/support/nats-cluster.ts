// A NATS cluster for tests, as docs/multi-site.md sets one up: one nats-server per site, each with
// JetStream (its own store), routes to the others, and the authorization `deltachain nats-config`
// generates (one nkey user per process, its role's permissions). Client and cluster ports are
// chosen free beforehand (routes must name them). A node can be killed and started again on the
// same ports and store, as a site's server would come back.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { agentsOf, authorizationBlock, connectNats, ensureSeedFiles, natsNames, natsSchema, seedFileName, type EventSender } from '../../shared/nats/index.js';
import { freePort } from './nbd-servers.js';

export interface ClusterNode {
  name: string;
  url: string;
  /** Kills the node (SIGKILL unless told). */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again (same ports, same store). */
  start(): Promise<void>;
  readonly running: boolean;
}

export interface NatsCluster {
  nodes: ClusterNode[];
  seedOf(who: 'coordinator' | EventSender): string;
  close(): Promise<void>;
}

export async function startNatsCluster(o: { folder: string; namespace: string; pools: string[]; remotes: string[]; size?: number }): Promise<NatsCluster> {
  const size = o.size ?? 3;
  await mkdir(o.folder, { recursive: true });
  const seeds = await ensureSeedFiles(join(o.folder, 'seeds'), agentsOf({ pools: o.pools, remotes: o.remotes, agents: [] }));
  await writeFile(join(o.folder, 'authorization.conf'), authorizationBlock(natsNames(o.namespace), seeds.map((s) => s.user)));
  const ports = await Promise.all(Array.from({ length: size }, async () => ({ client: await freePort(), cluster: await freePort() })));
  const nodes: ClusterNode[] = ports.map((port, i) => {
    const name = `site-${String.fromCharCode(97 + i)}`;
    const store = join(o.folder, name, 'store');
    const configFile = join(o.folder, name, 'nats-server.conf');
    const routes = ports.filter((_, j) => j !== i).map((p) => `nats-route://127.0.0.1:${p.cluster}`);
    const config = [
      `server_name: ${name}`,
      'host: 127.0.0.1',
      `port: ${port.client}`,
      `jetstream { store_dir: ${JSON.stringify(store)} }`,
      `cluster { name: deltachain, host: 127.0.0.1, port: ${port.cluster}, routes: [${routes.map((r) => JSON.stringify(r)).join(', ')}] }`,
      `include "../authorization.conf"`,
    ].join('\n');
    let child: ChildProcess | undefined;
    const node: ClusterNode = {
      name,
      url: `nats://127.0.0.1:${port.client}`,
      get running() {
        return child !== undefined && child.exitCode === null && child.signalCode === null;
      },
      async start() {
        await mkdir(store, { recursive: true });
        await writeFile(configFile, `${config}\n`);
        const started = spawn('nats-server', ['-c', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
        child = started;
        let text = '';
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`${name} not ready within 20 s:\n${text.slice(-2000)}`)), 20_000);
          started.stderr!.on('data', (d: Buffer) => {
            text += d.toString();
            if (/Server is ready/.test(text)) (clearTimeout(timer), resolve());
          });
          started.once('exit', (code) => (clearTimeout(timer), reject(new Error(`${name} exited (${code}) before it was ready:\n${text.slice(-2000)}`))));
        });
        started.stderr!.resume();
      },
      async stop(signal = 'SIGKILL') {
        const c = child;
        if (!c || c.exitCode !== null || c.signalCode !== null) return;
        const exited = new Promise((resolve) => c.once('exit', resolve));
        c.kill(signal);
        await exited;
      },
    };
    return node;
  });
  await Promise.all(nodes.map((n) => n.start()));
  const cluster: NatsCluster = {
    nodes,
    seedOf: (who) => join(o.folder, 'seeds', seedFileName(who)),
    async close() {
      await Promise.all(nodes.map((n) => n.stop()));
    },
  };
  await waitForJetStream(cluster, o.namespace);
  return cluster;
}

/** Waits until the cluster's JetStream answers (its meta group has a leader). */
export async function waitForJetStream(cluster: NatsCluster, namespace: string, timeoutMs = 30_000): Promise<void> {
  const config = natsSchema.parse({ servers: cluster.nodes.filter((n) => n.running).map((n) => n.url), namespace, seedFile: cluster.seedOf('coordinator') });
  const nc = await connectNats(config, 'deltachain-cluster-probe', { inboxPrefix: natsNames(namespace).coordinatorInbox });
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      try {
        await (await jetstreamManager(nc)).getAccountInfo();
        return;
      } catch (error) {
        if (Date.now() > deadline) throw new Error(`the cluster's JetStream not ready within ${timeoutMs} ms: ${(error as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    await nc.close();
  }
}
