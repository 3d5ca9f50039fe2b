// By hand, not in the suite: how fast the NBD client reads a 1 GiB export from qemu-nbd with 1, 2
// and 4 connections and 1 MiB requests, beside nbdcopy (libnbd, C) copying the same export to
// null:. Optionally through a relay adding a round trip (--rtt-ms=10,50), since one connection's
// throughput is what latency hurts. Reports MiB/s, the client's CPU seconds per GiB and qemu-nbd's.
// --window-mib is the reader's maxInFlightBytes (at most window / RTT per second, whatever the connections).
//   node --import tsx test/bench/nbd-bench.ts [--size-mib=1024] [--rtt-ms=0,10] [--runs=2] [--window-mib=16]
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NbdDiskReader } from '../../shared/nbd/index.js';
import { makeDiskImage, startNbdServer } from '../support/nbd-servers.js';
import { readProc } from './lib/proc.js';
import { measureCommand } from './peers/index.js';

const MiB = 1024 * 1024;
const argument = (name: string, fallback: string): string => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback;
const sizeMiB = Number(argument('size-mib', '1024'));
const rtts = argument('rtt-ms', '0').split(',').map(Number);
const runs = Number(argument('runs', '2'));
const windowBytes = Number(argument('window-mib', '16')) * MiB;
const EXPORT = 'bench';

interface Row {
  reader: string;
  rttMs: number;
  mibPerSec: number;
  clientCpuPerGiB: number;
  serverCpuPerGiB: number;
}

async function withRelay<T>(port: number, rttMs: number, body: (port: number) => Promise<T>): Promise<T> {
  if (rttMs === 0) return body(port);
  const script = fileURLToPath(new URL('./nbd/delay-relay.ts', import.meta.url));
  const relay = spawn(process.execPath, ['--import', 'tsx', script, String(port), String(rttMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const relayPort = await new Promise<number>((resolve) => relay.stdout!.once('data', (line: Buffer) => resolve(Number(line.toString().trim()))));
  try {
    return await body(relayPort);
  } finally {
    relay.kill();
  }
}

async function ours(port: number, connections: number, size: number): Promise<{ sec: number; cpu: number }> {
  const reader = new NbdDiskReader({ endpoint: async () => ({ host: '127.0.0.1', port, exportName: EXPORT }), connections, requestBytes: MiB, maxInFlightBytes: windowBytes });
  await reader.open();
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  let bytes = 0;
  for await (const part of reader.readRanges([{ offset: 0, length: size }])) bytes += part.data.length;
  const sec = (performance.now() - start) / 1000;
  const used = process.cpuUsage(cpuBefore);
  await reader.close();
  if (bytes !== size) throw new Error(`read ${bytes} of ${size} bytes`);
  return { sec, cpu: (used.user + used.system) / 1e6 };
}

async function main(): Promise<void> {
  const folder = await mkdtemp(join(tmpdir(), 'nbd-bench-'));
  const file = join(folder, 'disk.raw');
  const size = sizeMiB * MiB;
  await makeDiskImage(file, size);
  const server = await startNbdServer({ kind: 'qemu-nbd', file, exportName: EXPORT });
  const rows: Row[] = [];
  const gib = size / (1024 * MiB);
  try {
    for (const rttMs of rtts) {
      await withRelay(server.port, rttMs, async (port) => {
        for (let run = 0; run < runs; run++) {
          for (const connections of [1, 2, 4]) {
            const before = await readProc(server.process.pid!);
            const { sec, cpu } = await ours(port, connections, size);
            const after = await readProc(server.process.pid!);
            rows.push({ reader: `ours, ${connections} conn`, rttMs, mibPerSec: sizeMiB / sec, clientCpuPerGiB: cpu / gib, serverCpuPerGiB: (after.cpuSec - before.cpuSec) / gib });
          }
          for (const connections of [1, 4]) {
            const before = await readProc(server.process.pid!);
            const copy = await measureCommand(['nbdcopy', `--connections=${connections}`, '--request-size=1048576', `nbd://127.0.0.1:${port}/${EXPORT}`, 'null:']);
            const after = await readProc(server.process.pid!);
            rows.push({ reader: `nbdcopy, ${connections} conn`, rttMs, mibPerSec: sizeMiB / copy.wallSec, clientCpuPerGiB: copy.cpuSec / gib, serverCpuPerGiB: (after.cpuSec - before.cpuSec) / gib });
          }
        }
      });
    }
  } finally {
    await server.stop();
    await rm(folder, { recursive: true, force: true });
  }
  console.log(`| reader | added RTT (ms) | MiB/s | client CPU s/GiB | qemu-nbd CPU s/GiB |`);
  console.log(`|---|---|---|---|---|`);
  for (const row of rows) {
    console.log(`| ${row.reader} | ${row.rttMs} | ${row.mibPerSec.toFixed(0)} | ${row.clientCpuPerGiB.toFixed(2)} | ${row.serverCpuPerGiB.toFixed(2)} |`);
  }
}

await main();
