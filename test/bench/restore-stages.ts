// `npm run bench:restore-stages`: where a restore's time goes. Builds the chain the suite restores
// (`npm run bench`: a full, the VHD-export deltas of its incremental section, the CBT deltas, then
// 0.1 % clustered deltas to `--depth`; same write patterns and seeds, without the peers) on real
// processes, then measures, one after the other in each run, four stages of restoring its newest
// backup:
//   read     the storage agent's side of GetDisk alone, in a process of its own: the chain opened
//            with every block checked, the VHD stream made as GetDisk makes it, its bytes dropped
//            (the chain read: direct reads, `.sums` checks, folding the layers);
//   tcp      the read written to a plain loopback TCP socket, read by another process that drops
//            the bytes (what moving them between processes costs without gRPC; both CPUs counted);
//   get      GetDisk (VHD) from the running storage agent over loopback gRPC into a client process
//            that drops the bytes (the read plus gRPC's framing, the socket and a receiver);
//   restore  the whole restore: the host agent relays GetDisk into the lab pool's import.
// `read`, `tcp` and `get` run in child processes with the agents' Node flags (restore-stage-child.ts).
// A stage that takes as long as the one after it sets that one's pace; one well under it does not.
// Prints a table (wall s, MiB/s, CPU s by process: median and range); `--json FILE` writes it all.
//
// Options: --disk-gib 4, --depth 20 (at least 20: the suite's full and deltas), --runs 3, --json FILE.
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { AGENT_NODE_FLAGS, agentEnvironment } from '../../agent/node-flags.js';
import { readBackupMetadata } from '../../agent/storage/backup-metadata.js';
import { RemoteLayout } from '../../agent/storage/remote-layout.js';
import { startDeltachainStack, type DeltachainStack } from './deltachain/index.js';
import { procDelta, readProc } from './lib/proc.js';
import { figure, type Figure } from './lib/stats.js';
import { PATTERNS, WRITE_SEEDS } from './suite/dataplane-phases.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

const { values: args } = parseArgs({
  options: {
    'disk-gib': { type: 'string', default: '4' },
    depth: { type: 'string', default: '20' },
    runs: { type: 'string', default: '3' },
    json: { type: 'string' },
  },
});
const diskBytes = Math.round(Number(args['disk-gib']) * GiB);
const depth = Number(args.depth);
const runs = Number(args.runs);
/** The suite's chain before its 0.1 % deltas: a full, three VHD-export and three CBT deltas of each pattern, and the delta that switches CBT on. */
const SUITE_CHAIN_DEPTH = 1 + 2 * 3 * PATTERNS.length + 1;
if (!(diskBytes > 0) || !Number.isInteger(depth) || depth < SUITE_CHAIN_DEPTH || !Number.isInteger(runs) || runs < 1) {
  process.stderr.write(`usage: bench:restore-stages [--disk-gib 4] [--depth 20 (at least ${SUITE_CHAIN_DEPTH}: the suite's full and deltas)] [--runs 3] [--json FILE]\n`);
  process.exit(2);
}

type Stage = 'read' | 'tcp' | 'get' | 'restore';
interface StageRun {
  wallSec: number;
  cpuByProcess: Record<string, number>;
}

const log = (line: string): void => void process.stdout.write(`${line}\n`);
const fig = (f: Figure, digits = 2): string => `${f.median.toFixed(digits)} (${f.min.toFixed(digits)}–${f.max.toFixed(digits)})`;

/** The suite's chain, in the suite's order (suite/dataplane-phases.ts), to `depth` backups. */
async function buildSuiteChain(stack: DeltachainStack): Promise<void> {
  const write = (pattern: string, percent: number, seed: number) => stack.write({ pattern, percent, seed, content: 'mixed' });
  await stack.fullBackup();
  for (const [p, { pattern }] of PATTERNS.entries()) {
    for (let run = 0; run < 3; run++) (await write(pattern, 1, WRITE_SEEDS.vhdExport(p, run)), await stack.incrementalBackup());
  }
  await stack.useChangedBlocks('cbt');
  await write('clustered', 0.1, WRITE_SEEDS.cbtSwitch);
  await stack.incrementalBackup();
  for (const [p, { pattern }] of PATTERNS.entries()) {
    for (let run = 0; run < 3; run++) (await write(pattern, 1, WRITE_SEEDS.cbt(p, run)), await stack.incrementalBackup());
  }
  for (let seed = WRITE_SEEDS.deepen; stack.chainDepth() < depth; seed++) (await write('clustered', 0.1, seed), await stack.incrementalBackup());
}

/** The newest backup's id and its (only) disk's key, from the remote's metadata. */
async function newestBackup(layout: RemoteLayout, vmUuid: string): Promise<{ backupId: string; diskKey: string }> {
  const ids = (await readdir(layout.backupsFolder(vmUuid))).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -'.json'.length)).sort();
  const backupId = ids.at(-1);
  const metadata = backupId === undefined ? undefined : await readBackupMetadata(layout.metadataPath(vmUuid, backupId));
  if (backupId === undefined || metadata?.disks[0] === undefined) throw new Error(`no backup with a disk for VM ${vmUuid} on ${layout.root}`);
  return { backupId, diskKey: metadata.disks[0].key };
}

const CHILD = fileURLToPath(new URL('./restore-stage-child.ts', import.meta.url));
const CHILD_ARGS = [...AGENT_NODE_FLAGS, '--import', 'tsx', CHILD];
const execFileAsync = promisify(execFile);

interface ChildResult {
  bytes: number;
  wallSec: number;
  cpuSec: number;
}

function childResult(stdout: string, what: string): ChildResult {
  const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as ChildResult;
  if (result.bytes < diskBytes) throw new Error(`stage ${what} moved ${result.bytes} bytes, less than the ${diskBytes}-byte disk`);
  return result;
}

/** A stage in its child process (its own wall time and CPU), with the storage agent's CPU over it. */
async function childStage(stack: DeltachainStack, args: string[]): Promise<StageRun> {
  const storageBefore = await readProc(stack.pids.storageAgent);
  const { stdout } = await execFileAsync(process.execPath, [...CHILD_ARGS, ...args], { env: agentEnvironment() });
  const storage = procDelta(storageBefore, await readProc(stack.pids.storageAgent)).cpuSec;
  const { wallSec, cpuSec } = childResult(stdout, args[0]!);
  return { wallSec, cpuByProcess: { stage: cpuSec, storageAgent: storage } };
}

/** The read written to a plain TCP socket in one child, read and dropped by another: their CPU together. */
async function tcpStage(root: string, ids: string[]): Promise<StageRun> {
  const sender = spawn(process.execPath, [...CHILD_ARGS, 'send', root, ...ids], { env: agentEnvironment(), stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = once(sender, 'exit');
  try {
    const lines = createInterface({ input: sender.stdout! })[Symbol.asyncIterator]();
    const first = await lines.next();
    if (first.done === true) throw new Error('the sending child ended before it listened');
    const { port } = JSON.parse(first.value) as { port: number };
    const { stdout } = await execFileAsync(process.execPath, [...CHILD_ARGS, 'sink', String(port)], { env: agentEnvironment() });
    const last = await lines.next();
    if (last.done === true) throw new Error('the sending child ended without its figures');
    const sent = childResult(last.value, 'tcp (send)');
    const received = childResult(stdout, 'tcp (sink)');
    return { wallSec: Math.max(sent.wallSec, received.wallSec), cpuByProcess: { stage: sent.cpuSec + received.cpuSec } };
  } finally {
    if (sender.exitCode === null && sender.signalCode === null) sender.kill();
    await exited;
  }
}

const folder = await mkdtemp(join(tmpdir(), 'dc-bench-restore-stages-'));
const stack = await startDeltachainStack({ folder: join(folder, 'deltachain'), diskBytes, fill: 100, content: 'mixed', seed: 8, log }).catch(async (error: unknown) => {
  await rm(folder, { recursive: true, force: true });
  throw error;
});
try {
  const started = Date.now();
  await buildSuiteChain(stack);
  log(`chain of ${stack.chainDepth()} built in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  const layout = new RemoteLayout(stack.storage.remoteRoot);
  const { backupId, diskKey } = await newestBackup(layout, stack.vmUuid);
  const ids = [stack.vmUuid, backupId, diskKey];
  const stages: Record<Stage, () => Promise<StageRun>> = {
    read: () => childStage(stack, ['read', stack.storage.remoteRoot, ...ids]),
    tcp: () => tcpStage(stack.storage.remoteRoot, ids),
    get: () => childStage(stack, ['get', stack.storage.address, ...ids]),
    restore: async () => {
      const r = await stack.restoreNewest();
      if (!r.digestMatches) throw new Error('the restored disk differs from the backup');
      return { wallSec: r.wallSec, cpuByProcess: r.cpuByProcess };
    },
  };
  const order: Stage[] = ['read', 'tcp', 'get', 'restore'];
  // The first of each after the chain was written costs more (caches, heaps): once, not measured.
  for (const stage of order) await stages[stage]();
  const results: Record<Stage, StageRun[]> = { read: [], tcp: [], get: [], restore: [] };
  for (let run = 0; run < runs; run++) {
    for (const stage of order) {
      const r = await stages[stage]();
      results[stage].push(r);
      log(`run ${run + 1}/${runs} ${stage}: ${r.wallSec.toFixed(2)} s, CPU ${Object.entries(r.cpuByProcess).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')}`);
    }
  }

  const processes = [...new Set(order.flatMap((s) => results[s].flatMap((r) => Object.keys(r.cpuByProcess))))];
  log(`\nRestore stages of a ${depth}-deep chain, ${(diskBytes / GiB).toFixed(0)} GiB disk, median (min–max) of ${runs}:\n`);
  log(`| stage | wall s | MiB/s | ${processes.map((p) => `${p} CPU s`).join(' | ')} |`);
  log(`|---|---:|---:|${processes.map(() => '---:').join('|')}|`);
  const table: Record<string, unknown> = {};
  for (const stage of order) {
    const wall = figure(results[stage].map((r) => r.wallSec));
    const mibPerSec = figure(results[stage].map((r) => diskBytes / MiB / r.wallSec));
    const cpu = Object.fromEntries(processes.map((p) => [p, results[stage].some((r) => p in r.cpuByProcess) ? figure(results[stage].map((r) => r.cpuByProcess[p] ?? 0)) : undefined]));
    table[stage] = { wallSec: wall, mibPerSec, cpuByProcess: cpu };
    log(`| ${stage} | ${fig(wall)} | ${fig(mibPerSec, 0)} | ${processes.map((p) => (cpu[p] ? fig(cpu[p]) : '–')).join(' | ')} |`);
  }
  log('\nstage: the child process of the read (the chain read in it), of the tcp (sender and receiver together) or of the get (the gRPC client); in the read and the tcp the storage agent idles.');
  if (args.json) await writeFile(args.json, JSON.stringify({ diskBytes, depth, runs, stages: table, runsByStage: results }, null, 2));
} finally {
  await stack.close();
  await rm(folder, { recursive: true, force: true });
}
