// npm run bench:storage — in one run: PutDisk throughput on loopback (real storage server in its
// own process: validation, SHA-256 per block on both ends, VHD written to disk, fsync, rename)
// against a raw TCP copy of the same bytes on loopback (receiver discards; and receiver writes a
// file and fsyncs, the fair "store it" baseline), and the storage server's peak RSS (VmHWM) while
// it receives a 4 GiB disk; and the cost of security on that path: the same PutDisk over mutual
// TLS with role certificates and a coordinator-signed grant checked by the storage agent, against
// plaintext without grants (throughput and CPU per GiB on both ends). Size: BENCH_STORAGE_GIB
// (default 4). The machine's load skews all of these: compare numbers from one run only.
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { ChannelCredentials } from '@grpc/grpc-js';
import { StorageClient } from '../../shared/grpc/storage-client.js';
import { channelCredentials } from '../../shared/grpc/credentials.js';
import { BLOCK, MiB, diskHeader, patternBlock, patternBlocks } from '../support/storage-harness.js';
import { benchGrant, makeSecure, secureServerArgs, startServer, stop, type Secure } from './lib/storage-servers.js';

const GIB = Number(process.env.BENCH_STORAGE_GIB ?? 4);
const COUNT = (GIB * 1024 * MiB) / BLOCK;
/**
 * BENCH_CPU_PROF_DIR: the server processes write V8 CPU profiles there (summarise: test/bench/profile-summary.ts).
 * BENCH_NODE_ARGS: more node options for them, space-separated (e.g. --trace-gc).
 */
const PROFILE = [
  ...(process.env.BENCH_CPU_PROF_DIR ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF_DIR] : []),
  ...(process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
];

async function peakRssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

/** CPU seconds (user + system) a process has used, from /proc (clock ticks of 1/100 s). */
async function cpuSeconds(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function ownCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

async function benchPutDisk(secure?: Secure): Promise<{ seconds: number; rss: number; finish: number; serverCpu: number; clientCpu: number }> {
  const vmUuid = randomUUID();
  const { child, port } = secure ? await startServer('storage-secure', secureServerArgs(secure), PROFILE) : await startServer('storage', [], PROFILE);
  const client = secure
    ? new StorageClient(`127.0.0.1:${port}`, channelCredentials({ ca: secure.pki.ca.cert, ...secure.host, insecure: false }))
    : new StorageClient(`127.0.0.1:${port}`, ChannelCredentials.createInsecure());
  const grant = secure ? benchGrant(secure, vmUuid, 'bench', 'write') : undefined;
  const baseline = await peakRssMiB(child.pid!);
  const serverCpu0 = await cpuSeconds(child.pid!);
  const clientCpu0 = ownCpuSeconds();
  const started = process.hrtime.bigint();
  const blocks = Array.from({ length: COUNT }, (_, i) => i);
  let lastBlock = started;
  await client.putDisk(diskHeader({ vmUuid, backupId: 'bench', virtualSize: COUNT * BLOCK }), patternBlocks(1, blocks), {
    onProgress: () => (lastBlock = process.hrtime.bigint()),
    grant,
  });
  const ended = process.hrtime.bigint();
  const seconds = Number(ended - started) / 1e9;
  const finish = Number(ended - lastBlock) / 1e9;
  const rss = await peakRssMiB(child.pid!);
  const serverCpu = (await cpuSeconds(child.pid!)) - serverCpu0;
  const clientCpu = ownCpuSeconds() - clientCpu0;
  client.close();
  await stop(child);
  process.stdout.write(`  (server RSS before the upload: ${baseline.toFixed(0)} MiB)\n`);
  return { seconds, rss, finish, serverCpu, clientCpu };
}

async function benchTcp(mode: 'tcp' | 'tcp-file'): Promise<number> {
  const { child, port } = await startServer(mode, [], PROFILE);
  const socket = connect(port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  const started = process.hrtime.bigint();
  for (let index = 0; index < COUNT; index++) {
    if (!socket.write(patternBlock(1, index))) await new Promise((resolve) => socket.once('drain', resolve));
  }
  const reply = new Promise<string>((resolve) => socket.once('data', (d: Buffer) => resolve(d.toString().trim())));
  socket.end();
  const received = Number(await reply);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (received !== COUNT * BLOCK) throw new Error(`TCP receiver got ${received} bytes, expected ${COUNT * BLOCK}`);
  await stop(child);
  return seconds;
}

const mib = COUNT * 2;
process.stdout.write(`storage bench: ${GIB} GiB (${COUNT} blocks of 2 MiB), loopback\n`);
const tcp = await benchTcp('tcp');
process.stdout.write(`raw TCP copy to /dev/null:        ${mib} MiB in ${tcp.toFixed(2)} s = ${(mib / tcp).toFixed(0)} MiB/s\n`);
const tcpFile = await benchTcp('tcp-file');
process.stdout.write(`raw TCP copy to a file + fsync:   ${mib} MiB in ${tcpFile.toFixed(2)} s = ${(mib / tcpFile).toFixed(0)} MiB/s\n`);
const put = await benchPutDisk();
process.stdout.write(
  `gRPC PutDisk (VHD + fsync):       ${mib} MiB in ${put.seconds.toFixed(2)} s = ${(mib / put.seconds).toFixed(0)} MiB/s ` +
    `(last ${put.finish.toFixed(2)} s after the last block: trailer check, fsync, rename)\n`,
);
process.stdout.write(`  CPU: server ${put.serverCpu.toFixed(1)} s, client ${put.clientCpu.toFixed(1)} s (${((put.serverCpu / GIB)).toFixed(2)} + ${(put.clientCpu / GIB).toFixed(2)} s per GiB; SHA-256 on each side is most of it)\n`);
process.stdout.write(`PutDisk / raw TCP:                ${(tcp / put.seconds).toFixed(2)}\n`);
process.stdout.write(`PutDisk / raw TCP to file+fsync:  ${(tcpFile / put.seconds).toFixed(2)}\n`);
process.stdout.write(`storage server peak RSS while receiving ${GIB} GiB: ${put.rss.toFixed(0)} MiB\n`);
const folder = await mkdtemp(join(tmpdir(), 'dc-bench-storage-pki-'));
try {
  const secure = await benchPutDisk(await makeSecure(folder));
  const perGiB = (cpu: number): string => (cpu / GIB).toFixed(2);
  process.stdout.write(
    `gRPC PutDisk, mTLS + grant:       ${mib} MiB in ${secure.seconds.toFixed(2)} s = ${(mib / secure.seconds).toFixed(0)} MiB/s; ` +
      `CPU ${perGiB(secure.serverCpu)} + ${perGiB(secure.clientCpu)} s per GiB (plaintext: ${perGiB(put.serverCpu)} + ${perGiB(put.clientCpu)})\n`,
  );
  process.stdout.write(`secure / plaintext throughput:    ${(put.seconds / secure.seconds).toFixed(2)}; CPU per GiB, server ${(secure.serverCpu / put.serverCpu).toFixed(2)}, client ${(secure.clientCpu / put.clientCpu).toFixed(2)}\n`);
  process.stdout.write(`storage server peak RSS, secure:  ${secure.rss.toFixed(0)} MiB\n`);
} finally {
  await rm(folder, { recursive: true, force: true });
}
