// Sites apart on one machine, for tests of a deployment over several sites: each site is a network
// namespace joined to the root namespace by a veth pair, and the root namespace forwards nothing
// between them. A site reaches another site, or a service of the root namespace (Postgres, NATS,
// the test's own servers), only through a proxy listening on its own gateway address: an emulated
// WAN link (wan-link.ts) when the test declared one between the two, whose bytes are counted per
// link, a proxy with no delay otherwise. The kernel has no netem, so the link is userspace.
// Layout and addresses: docs/multi-site.md, "Test bed".
//
// Namespaces outlive a test process that dies: each call claims its subnet 10.X.0.0/16 with a file
// in CLAIMS naming its prefix and process, and the next call anywhere removes what a dead process
// left. A clean exit removes its own (an exit hook); close() does it at once.
import { execFile, execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { promisify } from 'node:util';
import { findOnPath } from './prerequisites.mjs';
import { carryConnection, cutAll, startWanLink, type LinkShape, type Wire } from './wan-link.js';

const run = promisify(execFile);
const CLAIMS = '/run/deltachain-site-net';
/** Names of our namespaces and root-side veths: `dc` + 4 hex digits (the call) + `-` + the site. */
const OURS = /^(dc[0-9a-f]{4})-/;
/** A path between two ends with no link declared: no delay, no rate to speak of. */
const LOCAL: LinkShape = { delayMs: 0, bytesPerSecond: 1e12 };

export interface Site {
  name: string;
  /** The network namespace its processes run in. */
  netns: string;
  /** Its address (10.X.i.2), where its servers are reached from the root namespace. */
  address: string;
  /** The root namespace's end of its veth (10.X.i.1): its default route, where its proxies listen. */
  gateway: string;
}

/** Where a site connects to reach a service exposed to it. */
export interface Endpoint {
  host: string;
  port: number;
}

/** Why sites cannot be made here (not root, no `ip`), or undefined when they can. */
export async function siteNetUsable(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'network namespaces for the site test bed need root';
  if (findOnPath('ip') === undefined) return 'ip (iproute2) is not installed: apt-get install -y iproute2';
  try {
    await run(ip(), ['netns', 'list']);
  } catch (error) {
    return `ip netns does not work here: ${(error as Error).message}`;
  }
  return undefined;
}

/** The command and arguments that run `command args` inside network namespace `netns`. */
export function netnsExec(netns: string, command: string, args: readonly string[]): [string, string[]] {
  return [ip(), ['netns', 'exec', netns, command, ...args]];
}

/** Test beds not closed yet, removed by the exit hook. */
const live = new Set<SiteNet>();
let exitHooked = false;

/** One namespace per name (at most 8 letters, digits or _), each with its veth, address and route. */
export async function createSites(names: string[]): Promise<SiteNet> {
  for (const name of names) if (!/^\w{1,8}$/.test(name) || name === 'root') throw new Error(`site name ${JSON.stringify(name)}: 1 to 8 letters, digits or _, not "root"`);
  if (new Set(names).size !== names.length) throw new Error(`site names repeat: ${names.join(', ')}`);
  const unusable = await siteNetUsable();
  if (unusable !== undefined) throw new Error(unusable);
  mkdirSync(CLAIMS, { recursive: true });
  removeStale();
  const { prefix, subnet, claim } = await claimSubnet();
  const sites = names.map((name, i) => ({ name, netns: `${prefix}-${name}`, address: `10.${subnet}.${i + 1}.2`, gateway: `10.${subnet}.${i + 1}.1` }));
  const net = new SiteNet(prefix, sites, claim);
  live.add(net);
  if (!exitHooked) {
    process.once('exit', () => live.forEach((n) => n.removeNow()));
    exitHooked = true;
  }
  try {
    for (const site of sites) await addSite(site);
  } catch (error) {
    await net.close();
    throw error;
  }
  return net;
}

/** What one proxy carried between two ends: the bytes each way as seen from `from`, and its open sockets. */
interface Proxy {
  from: string;
  carried(): { up: number; down: number };
  cut(): void;
}

/** What runs between two ends (two sites, or a site and the root namespace). */
interface Path {
  shape: LinkShape | undefined;
  /** Each direction's wire, by `from>to`, shared by every proxy of a declared link. */
  wires: Map<string, Wire>;
  proxies: Proxy[];
  down: boolean;
  /** Silent: open connections carry nothing and are not closed (see stall). */
  stalled: boolean;
}

export class SiteNet {
  private readonly paths = new Map<string, Path>();
  private readonly closers: (() => Promise<void>)[] = [];

  constructor(
    /** What every namespace and root-side veth of these sites is named after. */
    readonly prefix: string,
    readonly sites: readonly Site[],
    private readonly claim: string,
  ) {}

  site(name: string): Site {
    const site = this.sites.find((s) => s.name === name);
    if (site === undefined) throw new Error(`no site ${name} (sites: ${this.sites.map((s) => s.name).join(', ')})`);
    return site;
  }

  /** Declares the WAN link between `a` and `b` (either may be 'root'), before anything is exposed over it. */
  link(a: string, b: string, shape: LinkShape): void {
    const path = this.path(a, b);
    if (path.proxies.length > 0) throw new Error(`link ${a}–${b}: declare it before exposing anything over it`);
    path.shape = shape;
  }

  /** A proxy on `from`'s gateway to `to`'s address:targetPort (127.0.0.1 for 'root'), over their link if declared. */
  async expose(from: string, to: string, targetPort: number): Promise<Endpoint> {
    const site = this.site(from);
    if (to === from) throw new Error(`expose ${from} to itself: connect to 127.0.0.1 inside the site`);
    const host = to === 'root' ? '127.0.0.1' : this.site(to).address;
    const path = this.path(from, to);
    const wires = path.shape === undefined ? undefined : { up: wire(path, from, to), down: wire(path, to, from) };
    const link = await startWanLink({ host, port: targetPort }, path.shape ?? LOCAL, {
      host: site.gateway,
      ...(wires && { wires }),
      // Only the site's own processes, and only while the path is up.
      admits: (client) => !path.down && client.remoteAddress === site.address,
      stalled: () => path.stalled,
    });
    path.proxies.push({ from, carried: () => link.carried(), cut: () => link.cut() });
    this.closers.push(() => link.close());
    return { host: site.gateway, port: link.port };
  }

  /**
   * A service proxy: ONE address for clients of every site (an address registered once, as a
   * remote's in the catalogue), on the gateway of `to` (of `options.at` for 'root'; the first
   * site's when neither). Each connection is carried over the path between the client's site —
   * told by its source address, 10.X.j.2 — and `to` (or `options.at`: the site a root-namespace
   * service stands for, e.g. Postgres at site A): that link's shape, wires and counters, or no
   * delay within one site (counted under carried(j, j)). Anything else is refused.
   */
  async serve(to: string, targetPort: number, options: { at?: string } = {}): Promise<Endpoint> {
    const at = options.at ?? to;
    const listenOn = at === 'root' ? this.sites[0]!.gateway : this.site(at).gateway;
    const target = { host: to === 'root' ? '127.0.0.1' : this.site(to).address, port: targetPort };
    const proxies = new Map<string, Proxy & { carrier: { totals: { up: number; down: number }; open: Set<Socket> } }>();
    const server: Server = createServer({ allowHalfOpen: true }, (client) => {
      const from = this.sites.find((s) => s.address === client.remoteAddress)?.name;
      const path = from === undefined ? undefined : this.path(from, at);
      if (from === undefined || path === undefined || path.down) {
        client.on('error', () => {}).resetAndDestroy();
        return;
      }
      let proxy = proxies.get(from);
      if (proxy === undefined) {
        const carrier = { totals: { up: 0, down: 0 }, open: new Set<Socket>() };
        proxy = { from, carrier, carried: () => ({ ...carrier.totals }), cut: () => cutAll(carrier.open) };
        proxies.set(from, proxy);
        path.proxies.push(proxy);
      }
      const wires = path.shape === undefined ? { up: { freeAt: 0 }, down: { freeAt: 0 } } : { up: wire(path, from, at), down: wire(path, at, from) };
      carryConnection(client, target, { shape: path.shape ?? LOCAL, wires, ...proxy.carrier, stalled: () => path.stalled });
    });
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, listenOn, () => resolve()));
    this.closers.push(
      () =>
        new Promise<void>((resolve) => {
          for (const proxy of proxies.values()) proxy.cut();
          server.close(() => resolve());
        }),
    );
    return { host: listenOn, port: (server.address() as { port: number }).port };
  }

  /** Bytes carried so far between `a` and `b` over every proxy of their path: up is a → b. */
  carried(a: string, b: string): { up: number; down: number } {
    const total = { up: 0, down: 0 };
    for (const proxy of this.path(a, b).proxies) {
      const { from } = proxy;
      const { up, down } = proxy.carried();
      total.up += from === a ? up : down;
      total.down += from === a ? down : up;
    }
    return total;
  }

  /** Cuts every open connection between `a` and `b`; new ones pass. */
  cut(a: string, b: string): void {
    for (const proxy of this.path(a, b).proxies) proxy.cut();
  }

  /** Cuts every open connection between `a` and `b` and refuses new ones until up(). */
  down(a: string, b: string): void {
    this.path(a, b).down = true;
    this.cut(a, b);
  }

  /**
   * The link fails as a real one does: its open connections go silent — nothing delivered either
   * way, nothing closed, no reset — and new ones are refused, until up().
   */
  stall(a: string, b: string): void {
    const path = this.path(a, b);
    path.down = true;
    path.stalled = true;
  }

  /** Ends down() or stall(): new connections pass, silent ones carry again. */
  up(a: string, b: string): void {
    const path = this.path(a, b);
    path.down = false;
    path.stalled = false;
  }

  /** child_process.spawn inside site `name`'s namespace. */
  spawn(name: string, command: string, args: readonly string[] = [], options: SpawnOptions = {}): ChildProcess {
    const [file, argv] = netnsExec(this.site(name).netns, command, args);
    return spawn(file, argv, options);
  }

  /** Stops the proxies, kills what still runs in the sites, deletes the namespaces and veths. */
  async close(): Promise<void> {
    const closers = this.closers.splice(0);
    this.paths.clear();
    await Promise.all(closers.map((close) => close()));
    this.removeNow();
  }

  /** Synchronous, for the exit hook: the proxies end with the process. */
  removeNow(): void {
    removePrefix(this.prefix);
    rm(this.claim);
    live.delete(this);
  }

  private path(a: string, b: string): Path {
    for (const end of [a, b]) if (end !== 'root') this.site(end);
    const key = [a, b].sort().join('|');
    let path = this.paths.get(key);
    if (path === undefined) this.paths.set(key, (path = { shape: undefined, wires: new Map(), proxies: [], down: false, stalled: false }));
    return path;
  }
}

function wire(path: Path, from: string, to: string): Wire {
  const key = `${from}>${to}`;
  let found = path.wires.get(key);
  if (found === undefined) path.wires.set(key, (found = { freeAt: 0 }));
  return found;
}

async function addSite(site: Site): Promise<void> {
  const veth = site.netns; // the root side; the site's side is its eth0
  await run(ip(), ['netns', 'add', site.netns]);
  await run(ip(), ['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', site.netns]);
  // Forwarding is off for the whole root namespace here; off for this veth even where it is on.
  writeFileSync(`/proc/sys/net/ipv4/conf/${veth}/forwarding`, '0');
  await run(ip(), ['addr', 'add', `${site.gateway}/24`, 'dev', veth]);
  await run(ip(), ['link', 'set', veth, 'up']);
  for (const args of [['link', 'set', 'lo', 'up'], ['addr', 'add', `${site.address}/24`, 'dev', 'eth0'], ['link', 'set', 'eth0', 'up'], ['route', 'add', 'default', 'via', site.gateway]]) {
    await run(ip(), ['-n', site.netns, ...args]);
  }
}

/** A subnet 10.X.0.0/16 (X in 100–250) no address or route here uses and no other call claimed. */
async function claimSubnet(): Promise<{ prefix: string; subnet: number; claim: string }> {
  const used = (await run(ip(), ['-4', '-o', 'addr'])).stdout + (await run(ip(), ['-4', 'route', 'show', 'table', 'all'])).stdout;
  for (let tries = 0; tries < 50; tries++) {
    const subnet = randomInt(100, 251);
    if (used.includes(`10.${subnet}.`)) continue;
    const prefix = `dc${subnet.toString(16)}${randomBytes(1).toString('hex')}`;
    const claim = `${CLAIMS}/10.${subnet}`;
    try {
      writeFileSync(claim, `${prefix} ${process.pid} ${startTime(process.pid)}\n`, { flag: 'wx' });
      return { prefix, subnet, claim };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  throw new Error(`no free subnet 10.100-250.0.0/16 for the sites (claims in ${CLAIMS})`);
}

/** Removes the namespaces, veths and claims of calls whose process is gone. */
function removeStale(): void {
  // Listed before the claims are read: a namespace listed was made after its claim was written.
  const found = new Set([...ipLines(['netns', 'list']), ...ipLines(['-o', 'link'])].map((line) => OURS.exec(line.replace(/^\d+: /, ''))?.[1]).filter((p) => p !== undefined));
  const owned = new Set<string>();
  for (const file of readdirSync(CLAIMS, { withFileTypes: true }).filter((f) => f.isFile())) {
    const [prefix, pid, start] = readFileSync(`${CLAIMS}/${file.name}`, 'utf8').trim().split(' ');
    if (prefix !== undefined && pid !== undefined && startTime(Number(pid)) === start) {
      owned.add(prefix);
    } else {
      if (prefix !== undefined) removePrefix(prefix);
      rm(`${CLAIMS}/${file.name}`);
    }
  }
  for (const prefix of found) if (!owned.has(prefix)) removePrefix(prefix);
}

/** Kills what runs in the prefix's namespaces, then deletes them and their root-side veths. */
function removePrefix(prefix: string): void {
  const names = (line: string): string | undefined => line.replace(/^\d+: /, '').split(/[@:\s]/)[0];
  for (const netns of ipLines(['netns', 'list']).map(names).filter((n) => n?.startsWith(`${prefix}-`))) {
    for (const pid of ipLines(['netns', 'pids', netns!])) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
    }
    ipQuiet(['netns', 'del', netns!]);
  }
  // A namespace kept alive by a process that is still dying keeps its veth: delete it from here.
  for (const veth of ipLines(['-o', 'link']).map(names).filter((n) => n?.startsWith(`${prefix}-`))) ipQuiet(['link', 'del', veth!]);
}

function ipLines(args: string[]): string[] {
  try {
    return execFileSync(ip(), args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

function ipQuiet(args: string[]): void {
  ipLines(args);
}

function rm(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // already gone
  }
}

/** A process's start time (clock ticks after boot), which tells it from a later one of the same pid. */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function ip(): string {
  return findOnPath('ip') ?? 'ip';
}
