// Looks at this machine for what plan-services.ts decides on: can we log in to Postgres (with
// the right to create databases) with one of a few usual URLs, is its port open, which Debian
// clusters exist; is a NATS server listening, with JetStream; is nats-server installed; are we
// root with apt. Read-only: nothing is started or changed here.
import { execFile } from 'node:child_process';
import { access, constants, readdir } from 'node:fs/promises';
import { connect as tcpConnect } from 'node:net';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import postgres from 'postgres';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { parseClusters, type DebianCluster, type HostFacts, type NatsProbe, type PostgresProbe } from './plan-services.js';

const run = promisify(execFile);

export function portOpen(host: string, port: number, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host, port });
    const done = (open: boolean): void => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Logs in and checks the role may create databases; resolves with why not, or undefined. */
export async function tryPostgres(url: string): Promise<string | undefined> {
  const sql = postgres(url, { max: 1, connect_timeout: 5, onnotice: () => {} });
  try {
    const [row] = await sql<{ ok: boolean }[]>`select (rolcreatedb or rolsuper) as ok from pg_roles where rolname = current_user`;
    return row?.ok ? undefined : `${new URL(url).username} may not create databases`;
  } catch (error) {
    return (error as Error).message;
  } finally {
    await sql.end({ timeout: 2 }).catch(() => undefined);
  }
}

async function debianClusters(): Promise<DebianCluster[]> {
  try {
    return parseClusters((await run('pg_lsclusters', ['--no-header'])).stdout);
  } catch {
    return [];
  }
}

async function postgresInstalled(): Promise<boolean> {
  try {
    return (await readdir('/usr/lib/postgresql')).length > 0;
  } catch {
    return false;
  }
}

export async function probePostgres(candidates: string[], port: number): Promise<PostgresProbe> {
  const listening = await portOpen('127.0.0.1', port);
  let loginError: string | undefined;
  let workingUrl: string | undefined;
  if (listening) {
    for (const url of candidates) {
      const why = await tryPostgres(url);
      if (why === undefined) {
        workingUrl = url;
        break;
      }
      loginError ??= why;
    }
  }
  return { workingUrl, listening, loginError, clusters: await debianClusters(), installed: await postgresInstalled() };
}

export async function findExecutable(name: string, extraDirs = ['/usr/sbin', '/usr/bin', '/usr/local/bin']): Promise<string | undefined> {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter((d) => d !== ''), ...extraDirs];
  for (const dir of dirs) {
    const path = join(dir, name);
    try {
      await access(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  return undefined;
}

export async function probeNats(url: string): Promise<NatsProbe> {
  const { hostname, port } = new URL(url);
  const listening = await portOpen(hostname, Number(port || 4222));
  let jetStream = false;
  if (listening) {
    const nc = await connect({ servers: [url], timeout: 3000, maxReconnectAttempts: 0 }).catch(() => undefined);
    if (nc !== undefined) {
      jetStream = await jetstreamManager(nc, { timeout: 3000 })
        .then((jsm) => jsm.getAccountInfo())
        .then(() => true)
        .catch(() => false);
      await nc.close().catch(() => undefined);
    }
  }
  return { listening, jetStream, binary: await findExecutable('nats-server') };
}

export async function hostFacts(): Promise<HostFacts> {
  return { isRoot: process.getuid?.() === 0, hasApt: (await findExecutable('apt-get')) !== undefined };
}
