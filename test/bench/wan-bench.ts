// `npm run bench:wan`: PutDisk and GetDisk across emulated WAN links against a raw TCP copy over
// the same link, in one run. Each link is a userspace proxy in its own process
// (test/support/wan-link.ts: a rate, a fixed delay each way, a bounded queue; the kernel here has
// no netem). The storage server runs as production does (mutual TLS, role certificates, a
// coordinator-signed grant checked on each call) in its own process, and so does the client
// (StorageClient, test/support/wan-bench-client.ts), so each one's CPU and peak RSS are its own.
// GetDisk reads the disk PutDisk stored, as a VHD stream (what a restore reads).
//
// Each transfer runs about --seconds at the link's rate, so the few round trips of a call's set-up
// (TLS, HTTP/2 settings, the commit) weigh as they would in a transfer of that length; a WAN
// full of 100 GiB runs for hours. `npm run bench` runs it as its `wan` section (runs paired).
//
// Options: --links "50:100,150:100,50:1000,150:1000" (rtt-ms:megabits each), --seconds N (15),
// --runs N (1), --json FILE (the results).
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { readProc } from './lib/proc.js';
import { figureOf, type Figure } from './lib/stats.js';
import { benchGrant, makeSecure, secureServerArgs, startListening, startServer, stop, type Secure } from './lib/storage-servers.js';
import type { WanClientJob, WanClientResult } from '../support/wan-bench-client.js';

const MiB = 1024 * 1024;
const BLOCK = 2 * MiB;
const LINK = fileURLToPath(new URL('../support/wan-link-process.ts', import.meta.url));
const CLIENT = fileURLToPath(new URL('../support/wan-bench-client.ts', import.meta.url));
export const RSS_BOUND_MIB = 200;

/** One run over one link. */
export interface WanRun {
  rttMs: number;
  megabits: number;
  mib: number;
  rawMiBs: number;
  putMiBs: number;
  getMiBs: number;
  putRatio: number;
  /** Seconds of the put after its last block was handed to gRPC. */
  putTailSeconds: number;
  getRatio: number;
  /** Peak RSS, MiB: storage server, and the client in the put and the get. */
  serverPeakMiB: number;
  clientPeakMiB: number;
  /** CPU seconds of the link's proxy per GiB carried (that it is not the bottleneck). */
  linkCpuPerGiB: number;
}

/** A link's runs summarised; `ratio`s are paired run by run (raw and PutDisk/GetDisk of one run). */
export interface WanCase {
  rttMs: number;
  megabits: number;
  mib: number;
  rawMiBs: Figure;
  putMiBs: Figure;
  getMiBs: Figure;
  putRatio: Figure;
  getRatio: Figure;
  putTailSeconds: Figure;
  serverPeakMiB: number;
  clientPeakMiB: number;
  linkCpuPerGiB: Figure;
}

export const DEFAULT_LINKS = [
  { rttMs: 50, megabits: 100 },
  { rttMs: 150, megabits: 100 },
  { rttMs: 50, megabits: 1000 },
  { rttMs: 150, megabits: 1000 },
];

async function withLink<T>(targetPort: number, megabits: number, rttMs: number, run: (port: number) => Promise<T>): Promise<{ value: T; linkCpu: number }> {
  const link = await startListening(LINK, [String(targetPort), String(megabits), String(rttMs)]);
  try {
    const cpu0 = (await readProc(link.child.pid!)).cpuSec;
    const value = await run(link.port);
    return { value, linkCpu: (await readProc(link.child.pid!)).cpuSec - cpu0 };
  } finally {
    await stop(link.child);
  }
}

/** Seconds to send `bytes` through the link to a TCP sink and hear its count back. */
async function rawCopy(port: number, bytes: number): Promise<number> {
  const socket = connect(port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  const chunk = Buffer.alloc(BLOCK, 0x5a);
  const started = performance.now();
  for (let sent = 0; sent < bytes; sent += BLOCK) {
    if (!socket.write(chunk)) await new Promise((resolve) => socket.once('drain', resolve));
  }
  const reply = new Promise<string>((resolve) => socket.once('data', (d: Buffer) => resolve(d.toString().trim())));
  socket.end();
  const received = Number(await reply);
  if (received !== bytes) throw new Error(`TCP sink got ${received} bytes, expected ${bytes}`);
  return (performance.now() - started) / 1000;
}

function runClient(job: WanClientJob): Promise<WanClientResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLIENT, JSON.stringify(job)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()!) as WanClientResult) : reject(new Error(`WAN client (${job.mode}) exited ${code}`))));
  });
}

async function benchLink(secure: Secure, rttMs: number, megabits: number, seconds: number): Promise<WanRun> {
  const count = Math.max(8, Math.round((((megabits * 1e6) / 8) * seconds) / BLOCK));
  const bytes = count * BLOCK;
  const sink = await startServer('tcp');
  const raw = await withLink(sink.port, megabits, rttMs, (port) => rawCopy(port, bytes)).finally(() => stop(sink.child));
  const server = await startServer('storage-secure', secureServerArgs(secure));
  try {
    const vmUuid = randomUUID();
    const backupId = '20261205T100000Z-wan';
    const job = (mode: 'put' | 'get', port: number): WanClientJob => ({
      mode, address: `127.0.0.1:${port}`, vmUuid, backupId, count,
      tls: { ca: secure.pki.ca.cert, ...secure.host }, grant: Buffer.from(benchGrant(secure, vmUuid, backupId, mode === 'put' ? 'write' : 'read')).toString('base64'),
    });
    const put = await withLink(server.port, megabits, rttMs, (port) => runClient(job('put', port)));
    const get = await withLink(server.port, megabits, rttMs, (port) => runClient(job('get', port)));
    const serverPeak = (await readProc(server.child.pid!)).peakMiB;
    const mib = bytes / MiB;
    return {
      rttMs, megabits, mib,
      rawMiBs: mib / raw.value,
      putMiBs: mib / put.value.seconds,
      getMiBs: mib / get.value.seconds,
      putRatio: raw.value / put.value.seconds,
      putTailSeconds: put.value.tailSeconds,
      getRatio: raw.value / get.value.seconds,
      serverPeakMiB: serverPeak,
      clientPeakMiB: Math.max(put.value.peakMiB, get.value.peakMiB),
      linkCpuPerGiB: ((put.linkCpu + get.linkCpu) / (2 * bytes)) * 1024 * MiB,
    };
  } finally {
    await stop(server.child);
  }
}

/** Every link `runs` times (raw copy, PutDisk, GetDisk one after the other in each run). */
export async function benchWan(o: { links?: { rttMs: number; megabits: number }[]; seconds?: number; runs?: number; log?: (line: string) => void }): Promise<WanCase[]> {
  const folder = await mkdtemp(join(tmpdir(), 'dc-bench-wan-'));
  try {
    const secure = await makeSecure(folder);
    const cases: WanCase[] = [];
    for (const { rttMs, megabits } of o.links ?? DEFAULT_LINKS) {
      const runs: WanRun[] = [];
      for (let i = 0; i < (o.runs ?? 1); i++) {
        const run = await benchLink(secure, rttMs, megabits, o.seconds ?? 15);
        o.log?.(`WAN ${rttMs} ms, ${megabits} Mbit/s, run ${i + 1}: raw ${run.rawMiBs.toFixed(1)} MiB/s, PutDisk ${run.putMiBs.toFixed(1)} (${run.putRatio.toFixed(2)}), GetDisk ${run.getMiBs.toFixed(1)} (${run.getRatio.toFixed(2)})`);
        runs.push(run);
      }
      cases.push({
        rttMs, megabits, mib: runs[0]!.mib,
        rawMiBs: figureOf(runs, (r) => r.rawMiBs),
        putMiBs: figureOf(runs, (r) => r.putMiBs),
        getMiBs: figureOf(runs, (r) => r.getMiBs),
        putRatio: figureOf(runs, (r) => r.putRatio),
        getRatio: figureOf(runs, (r) => r.getRatio),
        putTailSeconds: figureOf(runs, (r) => r.putTailSeconds),
        serverPeakMiB: Math.max(...runs.map((r) => r.serverPeakMiB)),
        clientPeakMiB: Math.max(...runs.map((r) => r.clientPeakMiB)),
        linkCpuPerGiB: figureOf(runs, (r) => r.linkCpuPerGiB),
      });
    }
    return cases;
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

/** The cases as a markdown table (medians; ratios with their range). */
export function wanTable(cases: WanCase[]): string {
  const range = (f: Figure, digits = 2): string => (f.runs.length > 1 ? `${f.median.toFixed(digits)} (${f.min.toFixed(digits)}–${f.max.toFixed(digits)})` : f.median.toFixed(digits));
  const lines = [
    '| RTT ms | Mbit/s | MiB | raw TCP MiB/s | PutDisk MiB/s | PutDisk / raw | GetDisk MiB/s | GetDisk / raw | PutDisk tail s | peak RSS storage / client MiB | link proxy CPU s/GiB |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const c of cases) {
    lines.push(
      `| ${c.rttMs} | ${c.megabits} | ${c.mib} | ${c.rawMiBs.median.toFixed(1)} | ${c.putMiBs.median.toFixed(1)} | **${range(c.putRatio)}** | ${c.getMiBs.median.toFixed(1)} | **${range(c.getRatio)}** | ` +
        `${c.putTailSeconds.median.toFixed(2)} | ${c.serverPeakMiB.toFixed(0)} / ${c.clientPeakMiB.toFixed(0)} | ${c.linkCpuPerGiB.median.toFixed(2)} |`,
    );
  }
  return `${lines.join('\n')}\n`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values: args } = parseArgs({
    options: {
      links: { type: 'string' },
      seconds: { type: 'string', default: '15' },
      runs: { type: 'string', default: '1' },
      json: { type: 'string' },
    },
  });
  const links = args.links?.split(',').map((spec) => {
    const [rtt, megabits] = spec.split(':').map(Number);
    if (!(rtt! >= 0) || !(megabits! > 0)) throw new Error(`--links: "${spec}" is not rtt-ms:megabits`);
    return { rttMs: rtt!, megabits: megabits! };
  });
  process.stdout.write('WAN bench: PutDisk / GetDisk (mTLS + grant) against a raw TCP copy over the same emulated link\n');
  const cases = await benchWan({ links, seconds: Number(args.seconds), runs: Number(args.runs), log: (line) => process.stderr.write(`${line}\n`) });
  process.stdout.write(wanTable(cases));
  const over = cases.filter((c) => c.serverPeakMiB >= RSS_BOUND_MIB || c.clientPeakMiB >= RSS_BOUND_MIB);
  if (over.length > 0) process.stdout.write(`peak RSS at or over ${RSS_BOUND_MIB} MiB on ${over.map((c) => `${c.rttMs} ms × ${c.megabits} Mbit/s`).join(', ')}\n`);
  if (args.json) await writeFile(args.json, `${JSON.stringify(cases, null, 2)}\n`);
}
