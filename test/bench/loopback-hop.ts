// `npm run bench:hop`: what moving bytes from one process to another costs, by transport — the
// question behind a restore's two loopback hops (storage agent → host agent → pool). A sender
// process writes `--gib` GiB in 2 MiB pieces (one buffer, reused) to a receiver process that
// counts and drops them, both with the agents' Node flags and malloc settings; each transport in
// turn, `--runs` times:
//   grpc        a server-streaming call of grpc-js (messages of 2 MiB, no protobuf: the bytes as
//               they are) with the client's HTTP/2 window as our storage channels set it
//               (`grpc-node.flow_control_window`, shared/grpc/http2-windows.ts) — GetDisk's shape;
//   grpc-64k    the same with grpc-js's default 64 KiB window (what a client without that option pays);
//   h2          one node:http2 stream, windows of 8 MiB (stream) and 16 MiB (connection);
//   tcp         a plain TCP socket read with 'data' events (64 KiB reads);
//   tcp-onread  the same socket read into one 1 MiB buffer of the receiver's (`onread`).
// Prints wall seconds and each side's CPU seconds (median and range). The sender's CPU counts
// its framing and writes, the receiver's its reads and parsing; neither checks or stores anything.
//
// Options: --gib 4, --runs 3, --kinds grpc,grpc-64k,h2,tcp,tcp-onread.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import * as http2 from 'node:http2';
import { connect, createServer, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { AGENT_NODE_FLAGS, agentEnvironment } from '../../agent/node-flags.js';
import { BASE_WINDOW_BYTES } from '../../shared/grpc/http2-windows.js';
import { figure, type Figure } from './lib/stats.js';

const MiB = 1024 * 1024;
const PIECE = 2 * MiB;
const KINDS = ['grpc', 'grpc-64k', 'h2', 'tcp', 'tcp-onread'] as const;
type Kind = (typeof KINDS)[number];

interface SideResult {
  cpuSec: number;
  wallSec?: number;
  bytes?: number;
}

/** The sender's and receiver's last stdout line: what `process.cpuUsage` says, and more. */
function reportLine(extra: Omit<SideResult, 'cpuSec'> = {}): void {
  const used = process.cpuUsage();
  process.stdout.write(`${JSON.stringify({ cpuSec: (used.user + used.system) / 1e6, ...extra })}\n`);
}

/** One call whose answer is a stream of byte messages, without protobuf. */
const HOP_METHOD = {
  path: '/deltachain.bench.Hop/Get',
  requestStream: false,
  responseStream: true,
  requestSerialize: (b: Buffer) => b,
  requestDeserialize: (b: Buffer) => b,
  responseSerialize: (b: Buffer) => b,
  responseDeserialize: (b: Buffer) => b,
};
const HOP_SERVICE = { Get: HOP_METHOD } as unknown as grpc.ServiceDefinition;

/** Child: serves `total` bytes over `kind`; prints its port, then its report once all was sent. */
async function send(kind: Kind, total: number): Promise<void> {
  const piece = Buffer.alloc(PIECE, 0x5a);
  const done = () => setTimeout(() => (reportLine(), process.exit(0)), 100);
  if (kind === 'grpc' || kind === 'grpc-64k') {
    const server = new grpc.Server({ 'grpc.max_send_message_length': 4 * PIECE });
    server.addService(HOP_SERVICE, {
      Get: async (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
        for (let sent = 0; sent < total; sent += PIECE) if (!call.write(piece)) await once(call, 'drain');
        call.end();
        done();
      },
    });
    const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
    process.stdout.write(`${port}\n`);
    return;
  }
  if (kind === 'h2') {
    const server = http2.createServer({ settings: { initialWindowSize: 8 * MiB } });
    server.on('stream', (stream) => {
      stream.respond({ ':status': 200 });
      void (async () => {
        for (let sent = 0; sent < total; sent += PIECE) if (!stream.write(piece)) await once(stream, 'drain');
        stream.end(done);
      })();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    process.stdout.write(`${(server.address() as { port: number }).port}\n`);
    return;
  }
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  process.stdout.write(`${(server.address() as { port: number }).port}\n`);
  const [socket] = (await once(server, 'connection')) as [Socket];
  for (let sent = 0; sent < total; sent += PIECE) if (!socket.write(piece)) await once(socket, 'drain');
  socket.end(done);
}

/** Child: reads everything from `port` over `kind`, dropping it; prints its report. */
async function receive(kind: Kind, port: number): Promise<void> {
  const started = performance.now();
  let bytes = 0;
  const count = (b: Buffer) => void (bytes += b.length);
  if (kind === 'grpc' || kind === 'grpc-64k') {
    const options: grpc.ChannelOptions = { 'grpc.max_receive_message_length': 4 * PIECE, ...(kind === 'grpc' ? { 'grpc-node.flow_control_window': BASE_WINDOW_BYTES } : {}) };
    const Client = grpc.makeGenericClientConstructor(HOP_SERVICE, 'Hop');
    const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), options) as unknown as { Get(request: Buffer): grpc.ClientReadableStream<Buffer>; close(): void };
    const call = client.Get(Buffer.alloc(0)).on('data', count);
    await once(call, 'end');
    client.close();
  } else if (kind === 'h2') {
    const session = http2.connect(`http://127.0.0.1:${port}`, { settings: { initialWindowSize: 8 * MiB } });
    session.on('connect', () => session.setLocalWindowSize(16 * MiB));
    const request = session.request({ ':path': '/' }).on('data', count);
    await once(request, 'end');
    session.close();
  } else if (kind === 'tcp') {
    const socket = connect(port, '127.0.0.1').on('data', count);
    await once(socket, 'end');
  } else {
    const socket = connect({ port, host: '127.0.0.1', onread: { buffer: Buffer.allocUnsafe(MiB), callback: (n: number) => ((bytes += n), true) } });
    await once(socket, 'end');
  }
  reportLine({ wallSec: (performance.now() - started) / 1000, bytes });
}

const CHILD_ARGS = [...AGENT_NODE_FLAGS, '--import', 'tsx', fileURLToPath(import.meta.url)];

/** Runs a child and collects its stdout lines. */
function child(args: string[]): { lines: string[]; exited: Promise<unknown>; firstLine: () => Promise<string> } {
  const process_ = spawn(process.execPath, [...CHILD_ARGS, ...args], { env: agentEnvironment(), stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = once(process_, 'exit');
  const lines: string[] = [];
  let partial = '';
  process_.stdout.setEncoding('utf8').on('data', (d: string) => {
    const parts = (partial + d).split('\n');
    partial = parts.pop()!;
    lines.push(...parts.filter(Boolean));
  });
  const firstLine = async (): Promise<string> => {
    while (lines.length === 0) {
      if (process_.exitCode !== null) throw new Error(`bench:hop: a ${args[0]} child exited (${process_.exitCode}) before it was ready`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return lines.shift()!;
  };
  return { lines, exited, firstLine };
}

async function hop(kind: Kind, total: number): Promise<{ wallSec: number; sender: number; receiver: number }> {
  const sender = child(['send', kind, String(total)]);
  const port = await sender.firstLine();
  const receiver = child(['receive', kind, port]);
  await Promise.all([receiver.exited, sender.exited]);
  const rx = JSON.parse(receiver.lines.at(-1) ?? '{}') as SideResult;
  const tx = JSON.parse(sender.lines.at(-1) ?? '{}') as SideResult;
  if (rx.bytes !== total || rx.wallSec === undefined) throw new Error(`bench:hop: ${kind} received ${String(rx.bytes)} bytes of ${total}`);
  return { wallSec: rx.wallSec, sender: tx.cpuSec, receiver: rx.cpuSec };
}

async function main(): Promise<void> {
  const [role, kind, arg] = process.argv.slice(2);
  if (role === 'send') return send(kind as Kind, Number(arg));
  if (role === 'receive') return receive(kind as Kind, Number(arg));
  const { values } = parseArgs({ options: { gib: { type: 'string', default: '4' }, runs: { type: 'string', default: '3' }, kinds: { type: 'string', default: KINDS.join(',') } } });
  const gib = Number(values.gib);
  const runs = Number(values.runs);
  const kinds = values.kinds.split(',') as Kind[];
  const unknown = kinds.filter((k) => !KINDS.includes(k));
  if (!(gib > 0) || !Number.isInteger(runs) || runs < 1 || unknown.length > 0) {
    console.error(`usage: npm run bench:hop -- [--gib N (> 0)] [--runs N (whole, ≥ 1)] [--kinds ${KINDS.join(',')}]${unknown.length > 0 ? `\nunknown kind: ${unknown.join(', ')}` : ''}`);
    process.exit(2);
  }
  const total = Math.round(gib * 1024) * MiB;
  const results = new Map<Kind, { wallSec: number; sender: number; receiver: number }[]>(kinds.map((k) => [k, []]));
  // Alternating: each run tries every transport once, so a slow moment of the machine touches all.
  for (let run = 0; run < runs; run++) for (const k of kinds) results.get(k)!.push(await hop(k, total));
  const fig = (f: Figure) => `${f.median.toFixed(2)} (${f.min.toFixed(2)}–${f.max.toFixed(2)})`;
  console.log(`${(total / 2 ** 30).toFixed(2)} GiB in ${PIECE / MiB} MiB pieces, one loopback hop, ${runs} run(s) each; median (range)\n`);
  console.log('| transport | wall s | sender CPU s | receiver CPU s |\n|---|---:|---:|---:|');
  for (const [k, r] of results) console.log(`| ${k} | ${fig(figure(r.map((x) => x.wallSec)))} | ${fig(figure(r.map((x) => x.sender)))} | ${fig(figure(r.map((x) => x.receiver)))} |`);
}

await main();
