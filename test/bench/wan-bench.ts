// `npm run bench:wan`: PutDisk and GetDisk across emulated WAN links against a raw TCP copy over
// the same link, in one run. Each link is a userspace proxy in its own process
// (test/support/wan-link.ts: a rate, a fixed delay each way, a bounded queue; the kernel here has
// no netem). The storage server runs as production does (mutual TLS, role certificates, a
// coordinator-signed grant checked on each call) in its own process, and so does the client
// (StorageClient, test/support/wan-bench-client.ts), so each one's CPU and peak RSS are its own.
// GetDisk reads the disk PutDisk stored, as a VHD stream (what a restore reads).
//
// Options: --links "50:100,150:100,50:1000,150:1000" (rtt-ms:megabits each), --seconds N (about
// how long each transfer runs at the link's rate, 8), --json FILE (the results).
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { readProc } from './lib/proc.js';
import { benchGrant, makeSecure, secureServerArgs, startListening, startServer, stop, type Secure } from './lib/storage-servers.js';
import type { WanClientJob, WanClientResult } from '../support/wan-bench-client.js';

const MiB = 1024 * 1024;
const BLOCK = 2 * MiB;
const LINK = fileURLToPath(new URL('../support/wan-link-process.ts', import.meta.url));
const CLIENT = fileURLToPath(new URL('../support/wan-bench-client.ts', import.meta.url));
export const RSS_BOUND_MIB = 200;

const { values: args } = parseArgs({
  options: {
    links: { type: 'string', default: '50:100,150:100,50:1000,150:1000' },
    seconds: { type: 'string', default: '8' },
    json: { type: 'string' },
  },
});

export interface WanRow {
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

async function benchLink(secure: Secure, rttMs: number, megabits: number, seconds: number): Promise<WanRow> {
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

const links = args.links!.split(',').map((spec) => {
  const [rtt, megabits] = spec.split(':').map(Number);
  if (!(rtt! >= 0) || !(megabits! > 0)) throw new Error(`--links: "${spec}" is not rtt-ms:megabits`);
  return { rttMs: rtt!, megabits: megabits! };
});
const folder = await mkdtemp(join(tmpdir(), 'dc-bench-wan-'));
const rows: WanRow[] = [];
try {
  const secure = await makeSecure(folder);
  process.stdout.write('WAN bench: PutDisk / GetDisk (mTLS + grant) against a raw TCP copy over the same emulated link\n');
  process.stdout.write('| RTT ms | Mbit/s | MiB | raw MiB/s | PutDisk MiB/s | ratio | GetDisk MiB/s | ratio | peak RSS server / client MiB | link CPU s/GiB |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n');
  for (const { rttMs, megabits } of links) {
    const row = await benchLink(secure, rttMs, megabits, Number(args.seconds));
    rows.push(row);
    process.stdout.write(
      `| ${rttMs} | ${megabits} | ${row.mib} | ${row.rawMiBs.toFixed(1)} | ${row.putMiBs.toFixed(1)} | ${row.putRatio.toFixed(2)} (tail ${row.putTailSeconds.toFixed(2)} s) | ${row.getMiBs.toFixed(1)} | ${row.getRatio.toFixed(2)} | ` +
        `${row.serverPeakMiB.toFixed(0)} / ${row.clientPeakMiB.toFixed(0)} | ${row.linkCpuPerGiB.toFixed(2)} |\n`,
    );
  }
  if (args.json) await writeFile(args.json, `${JSON.stringify(rows, null, 2)}\n`);
} finally {
  await rm(folder, { recursive: true, force: true });
}
