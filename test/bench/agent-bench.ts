// `npm run bench:agent`: the peak RSS of the host agent and of the storage agent while a 16 GiB lab
// disk is backed up (the bound: under 200 MiB each), and the throughput. Both agents run as the
// real processes (`deltachain agent --config`, roles host and storage: real gRPC on loopback) so
// each one's memory and CPU are measured alone; the lab pool runs in this process, NATS beside.
// The bench publishes a full backup task, then a delta after a 1 % guest write, and samples the
// agents' /proc status throughout (VmHWM is the kernel's own peak RSS). Prints a table and writes
// bench-results/agent.json.
//
// Options: --disk-gib N (16), --fill P (percent of the disk holding data, 100), --delta-percent P
// (1), --keep (leave the temporary folders).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startLabPool, LabAdminClient } from '../../lab/pool/index.js';
import { publishTask } from '../../shared/nats/index.js';
import { TaskStatus, type TaskResult } from '../../shared/proto/gen/deltachain/tasks/v1/event.js';
import { backupTask, hostAgentConfig } from '../support/host-tasks.js';
import { startAgentProcess } from '../support/storage-agent-process.js';
import { startTestNats } from '../support/storage-nats.js';
import { readProc } from './lib/proc.js';
import { testTaskKeys } from '../support/task-keys.js';
import { AGENT_NODE_FLAGS, agentEnvironment } from '../../agent/node-flags.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const RSS_BOUND_MIB = 200;
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/**
 * BENCH_CPU_PROF_DIR: the host agent writes V8 CPU profiles there (summarise: test/bench/profile-summary.ts).
 * BENCH_NODE_ARGS: more node options for them, space-separated (e.g. --trace-gc).
 */
const PROFILE = [
  ...(process.env.BENCH_CPU_PROF_DIR ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF_DIR] : []),
  ...(process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
];

const { values: args } = parseArgs({
  options: {
    'disk-gib': { type: 'string', default: '16' },
    fill: { type: 'string', default: '100' },
    'delta-percent': { type: 'string', default: '1' },
    keep: { type: 'boolean', default: false },
  },
});
const diskGib = Number(args['disk-gib']);
const fill = Number(args.fill);
const deltaPercent = Number(args['delta-percent']);

interface ProcStatus {
  rssMiB: number;
  peakMiB: number;
}

async function procStatus(pid: number): Promise<ProcStatus> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
  return { rssMiB: kib('VmRSS') / 1024, peakMiB: kib('VmHWM') / 1024 };
}

/** Samples the process's RSS every 100 ms; `stop()` returns the highest sample. */
function sampleRss(pid: number): { stop(): number } {
  let max = 0;
  const timer = setInterval(() => {
    procStatus(pid).then((s) => (max = Math.max(max, s.rssMiB)), () => undefined);
  }, 100);
  return {
    stop() {
      clearInterval(timer);
      return max;
    },
  };
}

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

const folder = await mkdtemp(join(tmpdir(), 'deltachain-agent-bench-'));
let child: ChildProcess | undefined;
const closers: Array<() => Promise<void>> = [];
try {
  log(`agent bench: a ${diskGib} GiB lab disk, ${fill} % of it holding data; then a ${deltaPercent} % delta`);
  let started = Date.now();
  const lab = await startLabPool({
    config: {
      state: join(folder, 'lab'),
      fleet: { vms: [{ name: 'bench', disks: [{ name: 'bench disk', size: diskGib * GiB, fill }] }] },
      seed: 3,
    },
  });
  closers.push(() => lab.close());
  log(`lab pool ready (disk seeded in ${((Date.now() - started) / 1000).toFixed(1)} s)`);
  const admin = new LabAdminClient(lab.url, { user: lab.user, password: lab.password });
  const vm = (await admin.state()).vms.find((v) => v.name === 'bench')!;
  const nats = await startTestNats();
  closers.push(() => nats.close());
  const remoteId = 'bench-remote';
  await mkdir(join(folder, 'remote'), { recursive: true });
  const storage = await startAgentProcess({ folder, root: join(folder, 'remote'), remoteId, namespace: nats.namespace });
  closers.push(async () => void (await storage.kill('SIGTERM')));
  const storagePid = storage.child.pid!;
  const poolId = 'bench';
  const configPath = join(folder, 'host-agent.json');
  await writeFile(configPath, JSON.stringify({ ...hostAgentConfig({ lab, poolId, namespace: nats.namespace, agentId: 'host-bench' }), log: { level: 'warn', pretty: false } }));
  child = spawn(process.execPath, [...AGENT_NODE_FLAGS, ...PROFILE, join(ROOT, 'bin/deltachain.mjs'), 'agent', '--config', configPath], { stdio: ['ignore', 'inherit', 'inherit'], env: agentEnvironment() });
  const pid = child.pid!;
  await nats.waitForEvent((e) => e.agentId === 'host-bench' && e.body?.$case === 'heartbeat', 60_000, 'the host agent heartbeat');
  const idle = await procStatus(pid);
  log(`host agent ready: RSS ${idle.rssMiB.toFixed(0)} MiB idle`);

  const rows: Array<Record<string, unknown>> = [];
  const runBackup = async (label: string, backupId: string, bases: Record<string, string>): Promise<TaskResult> => {
    const task = backupTask(poolId, { vmUuid: vm.uuid, backupId, remoteId, storageAddress: storage.address, baseSnapshotVdiByDisk: bases, policyJson: JSON.stringify({ id: 'bench' }) });
    const sampler = sampleRss(pid);
    const storageSampler = sampleRss(storagePid);
    const agentCpu0 = (await readProc(pid)).cpuSec;
    const storageCpu0 = (await readProc(storagePid)).cpuSec;
    const ownCpu0 = process.cpuUsage();
    started = Date.now();
    await nats.queue('host', poolId);
    await publishTask(nats.nc, nats.names.hostTasks(poolId), task, testTaskKeys().signer);
    const event = await nats.waitForEvent((e) => e.taskId === task.taskId && e.body?.$case === 'result', 3 * 3600_000, `result of the ${label}`);
    const seconds = (Date.now() - started) / 1000;
    const agentCpuSec = (await readProc(pid)).cpuSec - agentCpu0;
    const storageCpuSec = (await readProc(storagePid)).cpuSec - storageCpu0;
    const ownCpu = process.cpuUsage(ownCpu0);
    const labCpuSec = (ownCpu.user + ownCpu.system) / 1e6;
    const sampled = sampler.stop();
    const storageSampled = storageSampler.stop();
    const status = await procStatus(pid);
    const storageStatus = await procStatus(storagePid);
    const result = event.body!.value as TaskResult;
    if (result.status !== TaskStatus.TASK_STATUS_SUCCEEDED) throw new Error(`${label} failed: ${result.error?.message}`);
    const output = result.output?.$case === 'backup' ? result.output.value : undefined;
    const disk = output?.report?.disks[0];
    const bytes = output?.bytesSent ?? 0;
    rows.push({
      case: label, mode: disk?.mode, blocks: disk?.blocks, bytes, seconds, mibPerSecond: bytes / MiB / seconds, agentCpuSec, storageCpuSec, labCpuSec,
      peakRssSampledMiB: sampled, peakRssKernelMiB: status.peakMiB, storagePeakRssSampledMiB: storageSampled, storagePeakRssKernelMiB: storageStatus.peakMiB,
    });
    log(
      `${label}: ${disk?.mode}, ${disk?.blocks} blocks, ${(bytes / MiB).toFixed(0)} MiB in ${seconds.toFixed(1)} s = ${(bytes / MiB / seconds).toFixed(0)} MiB/s; ` +
        `RSS peak (VmHWM so far) host agent ${status.peakMiB.toFixed(0)} MiB, storage agent ${storageStatus.peakMiB.toFixed(0)} MiB; ` +
        `CPU: host agent ${agentCpuSec.toFixed(1)} s (${(agentCpuSec / (bytes / GiB)).toFixed(2)} s per GiB), storage agent ${storageCpuSec.toFixed(1)} s (${(storageCpuSec / (bytes / GiB)).toFixed(2)} s per GiB), lab pool (this process) ${labCpuSec.toFixed(1)} s`,
    );
    return result;
  };

  const full = await runBackup('full backup', 'bench-full', {});
  const fullOutput = full.output?.$case === 'backup' ? full.output.value : undefined;
  await admin.write({ vdi: vm.disks[0]!.vdi, pattern: 'clustered', percent: deltaPercent, seed: 9 });
  await runBackup(`delta after a ${deltaPercent} % write`, 'bench-delta', Object.fromEntries(fullOutput!.report!.disks.map((d) => [d.diskKey, d.snapshotVdiUuid])));

  const peak = (await procStatus(pid)).peakMiB;
  const storagePeak = (await procStatus(storagePid)).peakMiB;
  log('');
  log('| case | mode | blocks | MiB sent | seconds | MiB/s | host agent peak RSS (sampled) | storage agent peak RSS (sampled) |');
  log('|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    log(`| ${r.case} | ${r.mode} | ${r.blocks} | ${((r.bytes as number) / MiB).toFixed(0)} | ${(r.seconds as number).toFixed(1)} | ${(r.mibPerSecond as number).toFixed(0)} | ${(r.peakRssSampledMiB as number).toFixed(0)} MiB | ${(r.storagePeakRssSampledMiB as number).toFixed(0)} MiB |`);
  }
  log('');
  log(`host agent peak RSS over the whole run (VmHWM): ${peak.toFixed(0)} MiB — bound ${RSS_BOUND_MIB} MiB: ${peak < RSS_BOUND_MIB ? 'PASS' : 'FAIL'} (idle: ${idle.rssMiB.toFixed(0)} MiB)`);
  log(`storage agent peak RSS over the whole run (VmHWM): ${storagePeak.toFixed(0)} MiB — bound ${RSS_BOUND_MIB} MiB: ${storagePeak < RSS_BOUND_MIB ? 'PASS' : 'FAIL'}`);
  await mkdir(join(ROOT, 'bench-results'), { recursive: true });
  await writeFile(
    join(ROOT, 'bench-results/agent.json'),
    `${JSON.stringify({ date: new Date().toISOString(), node: process.version, diskGib, fill, deltaPercent, idleRssMiB: idle.rssMiB, peakRssMiB: peak, storagePeakRssMiB: storagePeak, boundMiB: RSS_BOUND_MIB, rows }, null, 2)}\n`,
  );
  if (peak >= RSS_BOUND_MIB || storagePeak >= RSS_BOUND_MIB) process.exitCode = 1;
} finally {
  if (child !== undefined && child.exitCode === null) {
    const exited = new Promise((resolve) => child!.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
  for (const close of closers.reverse()) await close().catch(() => undefined);
  if (!args.keep) await rm(folder, { recursive: true, force: true });
}
