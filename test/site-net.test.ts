// The multi-site test bed (test/support/site-net.ts) with real processes in its namespaces: a
// server in site C, clients in site A; what crosses the A–C link is delayed, rate-limited and
// counted, what is not exposed cannot be reached, and nothing is left behind.
import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect, createServer, type Server } from 'node:net';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { createSites, siteNetUsable, type SiteNet } from './support/site-net.js';
import { linkShape } from './support/wan-link.js';

const MEGABITS = 100;
const RTT_MS = 50;
const PAYLOAD = 4 * 1024 * 1024;
const PROBES = 5;

/** Echoes what it reads, ends after the client's end; prints "listening <port>". */
const ECHO_SERVER = `
const server = require('node:net').createServer({ allowHalfOpen: true }, (s) => s.on('error', () => {}).pipe(s));
server.listen(0, '0.0.0.0', () => console.log('listening ' + server.address().port));`;

/**
 * argv: mode host port [connections]. Prints one JSON line. Modes: "echo" (PROBES one-byte round
 * trips, then PAYLOAD bytes sent on each connection at once and their echo read), "connect"
 * (connects or fails within 2 s), "hold" (prints {open} once connected, then {closed} when the
 * connection ends).
 */
const CLIENT = `
const [mode, host, port, connections] = process.argv.slice(1);
const connect = () => require('node:net').connect({ host, port: Number(port) });
const say = (o) => console.log(JSON.stringify(o));
const read = (socket, n) => new Promise((resolve) => {
  let got = 0;
  const on = (c) => { got += c.length; if (got >= n) (socket.off('data', on), resolve()); };
  socket.on('data', on);
});
if (mode === 'connect') {
  const socket = connect();
  socket.setTimeout(2000, () => (say({ error: 'timeout' }), process.exit(0)));
  socket.on('connect', () => socket.once('data', () => (say({ connected: true }), process.exit(0))).once('close', () => (say({ error: 'closed' }), process.exit(0))).write('?'));
  socket.on('error', (e) => (say({ error: e.code }), process.exit(0)));
} else if (mode === 'hold') {
  const socket = connect();
  socket.on('connect', () => say({ open: true }));
  socket.on('error', () => {});
  socket.on('close', () => (say({ closed: true }), process.exit(0)));
  socket.resume();
} else {
  (async () => {
    const sockets = Array.from({ length: Number(connections ?? 1) }, connect);
    await Promise.all(sockets.map((s) => new Promise((resolve) => s.once('connect', resolve))));
    const rtts = [];
    for (let i = 0; i < ${PROBES}; i++) {
      const t = performance.now();
      sockets[0].write(Buffer.of(i));
      await read(sockets[0], 1);
      rtts.push(performance.now() - t);
    }
    const t = performance.now();
    await Promise.all(sockets.map((s) => (s.write(Buffer.alloc(${PAYLOAD}, 7)), read(s, ${PAYLOAD}))));
    say({ rtts, ms: performance.now() - t });
    sockets.forEach((s) => s.end());
  })();
}`;

let net: SiteNet;
let echoServer: ChildProcess;
let echoPort: number;
let rootServer: Server;

interface Client<T> {
  child: ChildProcess;
  /** The first JSON line it prints. */
  line: Promise<T>;
  /** The JSON line after that one. */
  next(): Promise<T>;
}

function client<T>(mode: 'echo' | 'connect' | 'hold', to: { host: string; port: number }, connections = 1, site = 'A'): Client<T> {
  const child = net.spawn(site, process.execPath, ['-e', CLIENT, mode, to.host, String(to.port), String(connections)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let errors = '';
  child.stderr!.on('data', (c: Buffer) => (errors += c));
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const next = async (): Promise<T> => {
    const { value, done } = await lines.next();
    if (done === true) throw new Error(`the client in ${site} ended without a line: ${errors}`);
    return JSON.parse(value as string) as T;
  };
  return { child, line: next(), next };
}

before(async () => {
  const unusable = await siteNetUsable();
  if (unusable !== undefined) throw new Error(`the site test bed cannot run here: ${unusable}`);
  net = await createSites(['A', 'B', 'C']);
  net.link('A', 'C', linkShape(MEGABITS, RTT_MS));
  echoServer = net.spawn('C', process.execPath, ['-e', ECHO_SERVER], { stdio: ['ignore', 'pipe', 'pipe'] });
  const [line] = (await once(createInterface({ input: echoServer.stdout! }), 'line')) as [string];
  echoPort = Number(line.split(' ')[1]);
  rootServer = createServer((s) => s.on('error', () => {}).pipe(s));
  await new Promise<void>((resolve) => rootServer.listen(0, '127.0.0.1', resolve));
});

after(async () => {
  echoServer?.kill();
  rootServer?.close();
  const prefix = net?.prefix;
  await net?.close();
  if (prefix !== undefined) {
    assert.doesNotMatch(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }), new RegExp(prefix), 'close() leaves no namespace');
    assert.doesNotMatch(execFileSync('ip', ['-o', 'link'], { encoding: 'utf8' }), new RegExp(prefix), 'close() leaves no veth');
  }
});

test('sites: one namespace each, its address on its veth, its gateway in the root namespace', () => {
  assert.deepEqual(net.sites.map((s) => s.name), ['A', 'B', 'C']);
  for (const site of net.sites) {
    assert.match(execFileSync('ip', ['-n', site.netns, '-o', '-4', 'addr', 'show', 'eth0'], { encoding: 'utf8' }), new RegExp(`inet ${site.address.replaceAll('.', '\\.')}/24`));
    assert.match(execFileSync('ip', ['-o', '-4', 'addr', 'show', site.netns], { encoding: 'utf8' }), new RegExp(`inet ${site.gateway.replaceAll('.', '\\.')}/24`));
  }
});

test('A to C over the link: the round trip, the rate, and every byte counted', async (t) => {
  const before = net.carried('A', 'C');
  const { line } = client<{ rtts: number[]; ms: number }>('echo', await net.expose('A', 'C', echoPort));
  const { rtts, ms } = await line;
  const rate = PAYLOAD / ((ms - RTT_MS) / 1000) / 125_000;
  t.diagnostic(`round trips ${rtts.map((r) => r.toFixed(1)).join(', ')} ms; ${PAYLOAD} bytes echoed in ${ms.toFixed(0)} ms: ${rate.toFixed(0)} Mbit/s`);
  for (const rtt of rtts) assert.ok(rtt >= RTT_MS, `a round trip of ${rtt} ms, under the link's ${RTT_MS}`);
  assert.ok([...rtts].sort((a, b) => a - b)[PROBES >> 1]! < 3 * RTT_MS, `round trips ${rtts.join(', ')} ms`);
  // The link never goes faster than its rate; a loaded machine may well go slower.
  assert.ok(rate <= MEGABITS * 1.05 && rate >= MEGABITS * 0.3, `${rate} Mbit/s over a ${MEGABITS} Mbit/s link`);
  const carried = net.carried('A', 'C');
  assert.deepEqual({ up: carried.up - before.up, down: carried.down - before.down }, { up: PROBES + PAYLOAD, down: PROBES + PAYLOAD });
  assert.deepEqual(net.carried('C', 'A'), { up: carried.down, down: carried.up }, 'the same count, seen from C');
});

test('connections over one link share its rate', async (t) => {
  const before = net.carried('A', 'C');
  const { ms } = await client<{ ms: number }>('echo', await net.expose('A', 'C', echoPort), 2).line;
  const rate = (2 * PAYLOAD) / ((ms - RTT_MS) / 1000) / 125_000;
  t.diagnostic(`2 × ${PAYLOAD} bytes echoed in ${ms.toFixed(0)} ms: ${rate.toFixed(0)} Mbit/s in all`);
  assert.ok(rate <= MEGABITS * 1.05 && rate >= MEGABITS * 0.3, `${rate} Mbit/s in all over a ${MEGABITS} Mbit/s link`);
  assert.equal(net.carried('A', 'C').up - before.up, PROBES + 2 * PAYLOAD);
});

test('no way from A to C but the exposed one', async (t) => {
  const direct = await client<{ error?: string }>('connect', { host: net.site('C').address, port: echoPort }).line;
  assert.ok(direct.error !== undefined, `A reached C's ${net.site('C').address}:${echoPort} directly`);
  // C's proxies listen in the root namespace too, but take only C's own connections.
  const forC = await net.expose('C', 'root', (rootServer.address() as { port: number }).port);
  const through = await client<{ error?: string }>('connect', forC).line;
  assert.ok(through.error !== undefined, "A went through a proxy on C's gateway");
  t.diagnostic(`A to C's address: ${direct.error}; A to C's proxy: ${through.error}`);
});

test('A reaches a server of the root namespace through its gateway, counted apart from the link', async () => {
  const linkBefore = net.carried('A', 'C');
  const root = await client<{ connected?: boolean }>('connect', await net.expose('A', 'root', (rootServer.address() as { port: number }).port)).line;
  assert.deepEqual(root, { connected: true });
  assert.deepEqual(net.carried('A', 'root'), { up: 1, down: 1 });
  assert.deepEqual(net.carried('A', 'C'), linkBefore);
});

test('cut ends the open connections; down refuses new ones until up', async () => {
  const toC = await net.expose('A', 'C', echoPort);
  const held = client<{ open?: boolean; closed?: boolean }>('hold', toC);
  assert.deepEqual(await held.line, { open: true });
  const closed = held.next();
  net.cut('A', 'C');
  assert.deepEqual(await closed, { closed: true });
  assert.deepEqual(await client('connect', toC).line, { connected: true }, 'a new connection passes after a cut');

  net.down('A', 'C');
  const refused = await client<{ error?: string }>('connect', toC).line;
  assert.ok(refused.error !== undefined, 'a connection while the link is down');
  net.up('A', 'C');
  assert.deepEqual(await client('connect', toC).line, { connected: true }, 'a new connection passes once the link is up');
});

test('a service proxy: one address for every site, each connection carried over its own site\'s link', async () => {
  const service = await net.serve('C', echoPort);
  assert.equal(service.host, net.site('C').gateway);
  const [acBefore, ccBefore] = [net.carried('A', 'C'), net.carried('C', 'C')];
  const fromA = await client<{ rtts: number[] }>('echo', service).line;
  for (const rtt of fromA.rtts) assert.ok(rtt >= RTT_MS, `from A: a round trip of ${rtt} ms, under the A–C link's ${RTT_MS}`);
  assert.equal(net.carried('A', 'C').up - acBefore.up, PROBES + PAYLOAD, 'A\'s connection counted on the A–C link');
  const fromC = await client<{ rtts: number[] }>('echo', service, 1, 'C').line;
  assert.ok(Math.min(...fromC.rtts) < RTT_MS / 2, `from C, within the site: round trips ${fromC.rtts.join(', ')} ms`);
  assert.equal(net.carried('C', 'C').up - ccBefore.up, PROBES + PAYLOAD, 'C\'s connection counted within C');
  assert.equal(net.carried('A', 'C').up - acBefore.up, PROBES + PAYLOAD, 'and not on the A–C link');
  const fromB = await client<{ connected?: boolean }>('connect', service, 1, 'B').line;
  assert.deepEqual(fromB, { connected: true }, 'B reaches the same address (no link declared: no delay)');
  assert.deepEqual(net.carried('B', 'C'), { up: 1, down: 1 });

  net.down('A', 'C');
  assert.ok((await client<{ error?: string }>('connect', service).line).error !== undefined, 'A refused while A–C is down');
  assert.deepEqual(await client('connect', service, 1, 'B').line, { connected: true }, 'B still passes');
  net.up('A', 'C');
});

test('a service proxy of the root namespace standing for a site: counted on the link to that site', async () => {
  const rootPort = (rootServer.address() as { port: number }).port;
  const service = await net.serve('root', rootPort, { at: 'C' });
  const before = net.carried('A', 'C');
  assert.deepEqual(await client('connect', service).line, { connected: true });
  assert.deepEqual(net.carried('A', 'C'), { up: before.up + 1, down: before.down + 1 });
  const fromRoot = await new Promise<string>((resolve) => {
    const socket = connect(service).on('error', (e) => resolve((e as NodeJS.ErrnoException).code ?? e.message)).on('close', () => resolve('closed'));
    socket.write('?');
  });
  assert.match(fromRoot, /ECONNRESET|closed/, 'a client that is no site is refused');
});

test('stall: the link goes silent — open connections carry nothing and stay open, new ones are refused — until up', async () => {
  const service = await net.serve('C', echoPort);
  const held = client<{ open?: boolean; closed?: boolean }>('hold', service);
  assert.deepEqual(await held.line, { open: true });
  const closed = held.next();
  net.stall('A', 'C');
  const before = net.carried('A', 'C');
  const outcome = await Promise.race([closed, new Promise((resolve) => setTimeout(() => resolve('still open'), 500))]);
  assert.equal(outcome, 'still open', 'a stalled link closes nothing');
  assert.ok((await client<{ error?: string }>('connect', service).line).error !== undefined, 'a new connection is refused while stalled');
  assert.deepEqual(net.carried('A', 'C'), before, 'nothing crossed while stalled');
  net.up('A', 'C');
  assert.deepEqual(await client('connect', service).line, { connected: true }, 'and passes once up');
  held.child.kill();
});
