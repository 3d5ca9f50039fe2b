// Makes Postgres and NATS available for the lab, following plan-services.ts: probe, act on the
// plan (install with apt as root, start a Debian cluster, create a login for the lab, start
// nats-server with JetStream as a child of the lab), probe again — at most a few rounds — until
// both are usable, or fail with a ServicesError that says exactly what to run. A nats-server we
// start is ours and stops with the lab; a Postgres cluster we start is the system's and stays.
import { execFile } from 'node:child_process';
import { mkdir, readdir } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DeltachainError } from '../../shared/errors.js';
import { LAB_ROLE, planNats, planPostgres, type DebianCluster } from './plan-services.js';
import { hostFacts, probeNats, probePostgres } from './probe-services.js';
import { ProcessSupervisor } from './process-supervisor.js';

const run = promisify(execFile);

export class ServicesError extends DeltachainError {
  override name = 'ServicesError';
  constructor(reason: string, readonly commands: string[]) {
    super('LAB_SERVICES', `${reason}. Run:\n${commands.map((c) => `    ${c}`).join('\n')}`);
  }
}

export interface ServicesOptions {
  /** A Postgres URL to use (DELTACHAIN_LAB_PG_URL); otherwise the usual local logins are tried. */
  postgresUrl?: string;
  postgresPort: number;
  natsUrl: string;
  /** Where a nats-server we start keeps its data and log. */
  root: string;
  /** Hears what is being done ("installing postgresql …"). */
  progress(text: string): void;
}

export interface Services {
  /** Admin URL: a login that may create the lab's database. */
  postgresUrl: string;
  natsServers: string[];
  /** What was done to get there (empty when both were running). */
  actions: string[];
  /** Pids of the processes started for the lab (a nats-server), to stop if the lab dies. */
  pids(): number[];
  stop(): Promise<void>;
}

const ROUNDS = 4;

function candidates(o: ServicesOptions): string[] {
  if (o.postgresUrl !== undefined) return [o.postgresUrl];
  const at = `127.0.0.1:${o.postgresPort}/postgres`;
  const users = [...new Set(['postgres', userInfo().username])];
  return [...users.map((u) => `postgres://${u}@${at}`), `postgres://${LAB_ROLE.user}:${LAB_ROLE.password}@${at}`];
}

async function command(o: ServicesOptions, actions: string[], file: string, args: string[]): Promise<void> {
  const line = [file, ...args].join(' ');
  o.progress(line);
  actions.push(line);
  try {
    await run(file, args, { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new ServicesError(`\`${line}\` failed: ${(e.stderr ?? e.message).trim().split('\n').slice(-3).join(' ')}`, [line]);
  }
}

async function aptInstall(o: ServicesOptions, actions: string[], pkg: string): Promise<void> {
  try {
    await command(o, actions, 'apt-get', ['install', '-y', '--no-install-recommends', pkg]);
  } catch {
    await command(o, actions, 'apt-get', ['update']);
    await command(o, actions, 'apt-get', ['install', '-y', '--no-install-recommends', pkg]);
  }
}

async function createRole(o: ServicesOptions, actions: string[], cluster: DebianCluster): Promise<void> {
  const { user, password } = LAB_ROLE;
  const sql = `DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = '${user}') THEN ALTER ROLE ${user} LOGIN CREATEDB PASSWORD '${password}'; ELSE CREATE ROLE ${user} LOGIN CREATEDB PASSWORD '${password}'; END IF; END $$`;
  await command(o, actions, 'runuser', ['-u', 'postgres', '--', 'psql', '-p', String(cluster.port), '-v', 'ON_ERROR_STOP=1', '-c', sql]);
}

async function newestPostgresVersion(): Promise<string> {
  const versions = (await readdir('/usr/lib/postgresql')).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(a) - Number(b));
  if (versions.length === 0) throw new ServicesError('no Postgres version under /usr/lib/postgresql', ['sudo apt-get install -y postgresql']);
  return versions.at(-1)!;
}

async function ensurePostgres(o: ServicesOptions, actions: string[]): Promise<string> {
  const host = await hostFacts();
  for (let round = 0; round < ROUNDS; round++) {
    const plan = planPostgres(await probePostgres(candidates(o), o.postgresPort), host, o.postgresPort, o.postgresUrl !== undefined);
    switch (plan.action) {
      case 'use':
        return plan.url;
      case 'tell':
        throw new ServicesError(plan.reason, plan.commands);
      case 'install':
        await aptInstall(o, actions, 'postgresql');
        break;
      case 'create-cluster':
        await command(o, actions, 'pg_createcluster', ['--start', await newestPostgresVersion(), 'main']);
        break;
      case 'start-cluster':
        await command(o, actions, 'pg_ctlcluster', [plan.version, plan.name, 'start']);
        break;
      case 'create-role':
        await createRole(o, actions, plan.cluster);
        break;
    }
  }
  throw new ServicesError('Postgres is still not usable after installing and starting it', ['DELTACHAIN_LAB_PG_URL=postgres://USER:PASSWORD@127.0.0.1:5432/postgres npm run lab']);
}

async function ensureNats(o: ServicesOptions, actions: string[], supervisor: ProcessSupervisor): Promise<void> {
  const host = await hostFacts();
  const port = Number(new URL(o.natsUrl).port || 4222);
  for (let round = 0; round < ROUNDS; round++) {
    const plan = planNats(await probeNats(o.natsUrl), host, o.natsUrl);
    switch (plan.action) {
      case 'use':
        return;
      case 'tell':
        throw new ServicesError(plan.reason, plan.commands);
      case 'install':
        await aptInstall(o, actions, 'nats-server');
        break;
      case 'start': {
        const store = join(o.root, 'nats');
        await mkdir(store, { recursive: true });
        const args = ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', store];
        o.progress(`${plan.binary} ${args.join(' ')}`);
        actions.push(`${plan.binary} ${args.join(' ')} (stopped with the lab)`);
        await supervisor.start({ name: 'nats-server', command: plan.binary, args, ready: (line) => (/Server is ready/.test(line) ? true : undefined), timeoutMs: 30_000 });
        break;
      }
    }
  }
  throw new ServicesError(`NATS at ${o.natsUrl} is still not usable`, ['nats-server -js', 'npm run lab']);
}

export async function ensureServices(o: ServicesOptions): Promise<Services> {
  const actions: string[] = [];
  const supervisor = new ProcessSupervisor(join(o.root, 'logs'));
  try {
    const postgresUrl = await ensurePostgres(o, actions);
    await ensureNats(o, actions, supervisor);
    return { postgresUrl, natsServers: [o.natsUrl], actions, pids: () => supervisor.running.map((p) => p.child.pid ?? 0).filter((pid) => pid > 0), stop: () => supervisor.stopAll() };
  } catch (error) {
    await supervisor.stopAll();
    throw error;
  }
}
