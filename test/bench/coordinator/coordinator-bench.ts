// Coordinator at scale: plan, dispatch and record nightly runs of N VMs over simulated
// host agents, timing each phase and counting what the catalogue holds afterwards.
//
// Per VM count: a fresh Postgres database, a NATS namespace of its own, the real coordinator
// process (`deltachain coordinator`), a simulated storage agent (real gRPC ListBackups, nothing
// on disk) and `agents` simulated host agents in this process (simulated-fleet.ts), one pool
// each. Pools and the remote are added through the control API; VMs arrive as the agents'
// inventory reports. One policy selects every VM by tag (retention 30, full interval 0,
// concurrency 1000 per pool, disabled so the schedule never fires) and each run is a manual
// `policy run` — successive nights on the same catalogue: night 1 is a full of every VM, the
// later nights are deltas against the reference snapshots night 1 left (no merges: retention is
// not reached).
//
// Phases of one night, on one clock (the coordinator's timestamps in the catalogue and this
// process's, same host):
//   plan     — `policy run` sent → its answer (the run and its tasks committed, and listed back);
//   dispatch — answer → the last task marked dispatched (the catalogue row is written just before
//              the publish to JetStream);
//   record   — last dispatch → the run finished (every result applied, the run's state derived);
//   total    — `policy run` sent → the run finished.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ChannelCredentials } from '@grpc/grpc-js';
import postgres from 'postgres';
import { ControlClient } from '../../../coordinator/api/control-client.js';
import { connectNats, deleteStreams, ensureStreams, natsNames, natsSchema } from '../../../shared/nats/index.js';
import { createEmptyDatabase, databaseUrl, dropDatabase } from '../../support/pg-database.js';
import { figure, figureOf, type Figure } from '../lib/stats.js';
import { procDelta, readProc, resetPeak } from '../lib/proc.js';
import { spawnCoordinator } from './coordinator-process.js';
import { BENCH_TAG, fleetVms, SimulatedHostAgent, type FleetCounters } from './simulated-fleet.js';
import { SimulatedRemote, SimulatedStorageAgent } from './simulated-storage.js';

const NATS_URL = process.env.DELTACHAIN_BENCH_NATS_URL ?? 'nats://127.0.0.1:4222';
const REMOTE = 'bench';
const POLICY = 'nightly';

export interface CoordinatorScaleRow {
  vms: number;
  agents: number;
  planSec: Figure;
  dispatchSec: Figure;
  recordSec: Figure;
  totalSec: Figure;
  tasksPerSec: Figure;
  /** Rows per catalogue table after every run of this size. */
  dbRows: Record<string, number>;
  dbRowsTotal: number;
  /** pg_database_size after every run. */
  dbBytes: number;
  /** Highest VmHWM of the coordinator over the runs (reset before each). */
  coordinatorPeakRssMiB: number;
  /** Coordinator CPU (user + system) per run, trigger to finish. */
  coordinatorCpuSec: Figure;
  /** Backup tasks per run, and each run's final state. */
  tasks: number[];
  runStates: string[];
  /** Tasks delivered again to an agent that had answered them (should stay 0). */
  redeliveries: number;
}

export interface CoordinatorBenchOptions {
  vmCounts: number[];
  agents: number;
  runs: number;
  log?: (line: string) => void;
  /** Extra node options for the coordinator process (e.g. ['--cpu-prof', '--cpu-prof-dir=DIR']). */
  coordinatorNodeArgs?: string[];
  /** Longest wait for one run to finish, ms; default 10 minutes. */
  runTimeoutMs?: number;
}

interface NightMeasure {
  planSec: number;
  dispatchSec: number;
  recordSec: number;
  totalSec: number;
  tasks: number;
  state: string;
  cpuSec: number;
  peakMiB: number;
}

export async function runCoordinatorBench(o: CoordinatorBenchOptions): Promise<CoordinatorScaleRow[]> {
  const rows: CoordinatorScaleRow[] = [];
  for (const vms of o.vmCounts) rows.push(await benchOneSize(vms, o));
  return rows;
}

async function benchOneSize(vms: number, o: CoordinatorBenchOptions): Promise<CoordinatorScaleRow> {
  const log = o.log ?? (() => {});
  const folder = await mkdtemp(join(tmpdir(), 'dc-coordinator-bench-'));
  const dbName = await createEmptyDatabase('dc_bench');
  const db = postgres(databaseUrl(dbName), { max: 2, onnotice: () => {} });
  const names = natsNames(`bench-${randomBytes(4).toString('hex')}`);
  const nc = await connectNats(natsSchema.parse({ servers: [NATS_URL], namespace: names.namespace, insecure: true }), 'deltachain-coordinator-bench');
  const jsm = await ensureStreams(nc, names);
  const remote = new SimulatedRemote();
  const storage = new SimulatedStorageAgent(REMOTE, remote);
  const counters: FleetCounters = { answered: 0, refused: 0, redelivered: 0 };
  const agents = [...fleetVms(vms, o.agents)].map(([pool, list]) => new SimulatedHostAgent(nc, names, pool, list, remote, counters, 4));
  let coordinator: Awaited<ReturnType<typeof spawnCoordinator>> | undefined;
  let client: ControlClient | undefined;
  try {
    const configPath = join(folder, 'coordinator.json');
    await writeFile(configPath, JSON.stringify({
      log: { level: 'info', pretty: false },
      database: { url: databaseUrl(dbName), maxConnections: 10 },
      nats: { servers: [NATS_URL], namespace: names.namespace, insecure: true, ackWaitSeconds: 30 },
      api: { socket: join(folder, 'coordinator.sock') },
      // The simulated agents have no data plane: results carry their summaries, nothing is looked up.
      storage: { tls: { insecure: true } },
      tasks: { backup: { timeoutSeconds: 3600 } },
    }));
    coordinator = await spawnCoordinator(configPath, join(folder, 'coordinator.log'), o.coordinatorNodeArgs);
    client = new ControlClient(`unix:${join(folder, 'coordinator.sock')}`, ChannelCredentials.createInsecure(), 300_000);
    const setupStart = Date.now();
    await storage.start(nc, names);
    await client.addRemote({ name: REMOTE, address: storage.address, site: '', location: '', description: 'simulated' });
    for (const agent of agents) await client.addPool({ name: agent.pool, site: '', description: '' });
    await Promise.all(agents.map((a) => a.start()));
    await Promise.all(agents.map((a) => a.reportInventory()));
    await waitFor(async () => {
      const [row] = await db<{ vms: number; storage: number }[]>`
        select (select count(*)::int from vms) as vms, (select count(*)::int from agents where role = 'storage') as storage`;
      return row!.vms === vms && row!.storage === 1;
    }, 120_000, `the catalogue to list ${vms} VMs and the storage agent`);
    log(`${vms} VMs: ${o.agents} pools, remote and inventory recorded in ${((Date.now() - setupStart) / 1000).toFixed(1)} s`);
    await client.createPolicy({
      settings: { name: POLICY, selection: { vmUuids: [], tags: [BENCH_TAG], pools: [] }, remotes: [REMOTE], cron: '0 2 * * *', timeZone: 'UTC', retention: 30, fullInterval: 0, concurrency: 1000, enabled: false },
    });
    const nights: NightMeasure[] = [];
    for (let night = 0; night < o.runs; night++) {
      const m = await measureNight(client, db, coordinator.pid, o.runTimeoutMs ?? 600_000);
      nights.push(m);
      log(`${vms} VMs night ${night + 1}: ${m.state}, ${m.tasks} tasks — plan ${m.planSec.toFixed(2)} s, dispatch ${m.dispatchSec.toFixed(2)} s, record ${m.recordSec.toFixed(2)} s, total ${m.totalSec.toFixed(2)} s; coordinator CPU ${m.cpuSec.toFixed(2)} s, peak RSS ${m.peakMiB.toFixed(0)} MiB`);
    }
    const { dbRows, dbBytes } = await catalogueSize(db);
    const warnings = await coordinator.warnings();
    if (warnings.length > 0) log(`coordinator warnings (${warnings.length}${warnings.length === 50 ? '+' : ''}), the first: ${warnings[0]}`);
    return {
      vms,
      agents: o.agents,
      planSec: figureOf(nights, (n) => n.planSec),
      dispatchSec: figureOf(nights, (n) => n.dispatchSec),
      recordSec: figureOf(nights, (n) => n.recordSec),
      totalSec: figureOf(nights, (n) => n.totalSec),
      tasksPerSec: figure(nights.map((n) => n.tasks / n.totalSec)),
      dbRows,
      dbRowsTotal: Object.values(dbRows).reduce((a, b) => a + b, 0),
      dbBytes,
      coordinatorPeakRssMiB: Math.max(...nights.map((n) => n.peakMiB)),
      coordinatorCpuSec: figureOf(nights, (n) => n.cpuSec),
      tasks: nights.map((n) => n.tasks),
      runStates: nights.map((n) => n.state),
      redeliveries: counters.redelivered,
    };
  } finally {
    client?.close();
    await Promise.all(agents.map((a) => a.stop().catch(() => undefined)));
    await storage.stop().catch(() => undefined);
    await coordinator?.stop().catch(() => undefined);
    await deleteStreams(jsm, names).catch(() => undefined);
    await nc.drain().catch(() => undefined);
    await db.end({ timeout: 5 }).catch(() => undefined);
    await dropDatabase(dbName).catch(() => undefined);
    await rm(folder, { recursive: true, force: true });
  }
}

async function measureNight(client: ControlClient, db: postgres.Sql, pid: number, timeoutMs: number): Promise<NightMeasure> {
  await resetPeak(pid);
  const before = await readProc(pid);
  const t0 = Date.now();
  const answer = await client.runPolicy({ name: POLICY, forceFull: false, vmUuids: [] });
  const planned = Date.now();
  const runId = answer.run!.run!.id;
  let finished: { state: string; finishedAt: Date } | undefined;
  await waitFor(async () => {
    const [run] = await db<{ state: string; finishedAt: Date | null }[]>`select state, finished_at as "finishedAt" from runs where id = ${runId}`;
    if (run?.finishedAt) finished = { state: run.state, finishedAt: run.finishedAt };
    return finished !== undefined;
  }, timeoutMs, `run ${runId} to finish`, 100);
  const after = procDelta(before, await readProc(pid));
  const [tasks] = await db<{ n: number; lastDispatch: Date | null }[]>`
    select count(*)::int as n, max(dispatched_at) as "lastDispatch" from tasks where run_id = ${runId} and kind = 'backup'`;
  const lastDispatch = tasks!.lastDispatch?.getTime() ?? planned;
  const end = finished!.finishedAt.getTime();
  return {
    planSec: (planned - t0) / 1000,
    dispatchSec: Math.max(0, lastDispatch - planned) / 1000,
    recordSec: Math.max(0, end - Math.max(lastDispatch, planned)) / 1000,
    totalSec: (end - t0) / 1000,
    tasks: tasks!.n,
    state: finished!.state,
    cpuSec: after.cpuSec,
    peakMiB: after.peakMiB,
  };
}

/** Rows of every table of the catalogue (exact counts) and the database's size on disk. */
async function catalogueSize(db: postgres.Sql): Promise<{ dbRows: Record<string, number>; dbBytes: number }> {
  const tables = await db<{ name: string }[]>`
    select table_name as name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE' order by table_name`;
  const dbRows: Record<string, number> = {};
  for (const { name } of tables) {
    const [row] = await db.unsafe<{ n: number }[]>(`select count(*)::int as n from "${name}"`);
    dbRows[name] = row!.n;
  }
  const [size] = await db<{ bytes: string }[]>`select pg_database_size(current_database())::text as bytes`;
  return { dbRows, dbBytes: Number(size!.bytes) };
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string, everyMs = 200): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
