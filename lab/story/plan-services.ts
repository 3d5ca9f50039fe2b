// What `npm run lab` does about Postgres and NATS, decided from what a probe found (pure, table
// tested): use the servers already running on the standard ports; else start what is installed
// (a Debian Postgres cluster; our own `nats-server -js` under .lab/); else, when run as root
// with apt, install Debian's `postgresql` / `nats-server` first; otherwise stop and say exactly
// which commands to run. A NATS without JetStream or a Postgres that refuses every login we try
// cannot be fixed from here: the lab says what to change.

export interface PostgresProbe {
  /** A URL that logged in, with rights to create databases. */
  workingUrl: string | undefined;
  /** The TCP port accepts connections. */
  listening: boolean;
  /** Why the logins failed, when the port is open. */
  loginError: string | undefined;
  /** Debian clusters (`pg_lsclusters`). */
  clusters: DebianCluster[];
  /** Postgres server binaries are installed (Debian's postgresql package). */
  installed: boolean;
}

export interface DebianCluster {
  version: string;
  name: string;
  port: number;
  online: boolean;
}

export interface NatsProbe {
  listening: boolean;
  jetStream: boolean;
  /** Path of a nats-server binary, when one is installed. */
  binary: string | undefined;
}

export interface HostFacts {
  isRoot: boolean;
  hasApt: boolean;
}

export type PostgresPlan =
  | { action: 'use'; url: string }
  | { action: 'start-cluster'; version: string; name: string }
  | { action: 'create-cluster'; version: string }
  | { action: 'install' }
  | { action: 'create-role'; cluster: DebianCluster }
  | { action: 'tell'; reason: string; commands: string[] };

export type NatsPlan = { action: 'use' } | { action: 'start'; binary: string } | { action: 'install' } | { action: 'tell'; reason: string; commands: string[] };

export const LAB_ROLE = { user: 'deltachain_lab', password: 'deltachain-lab' };

/** `explicit`: the URL was given (DELTACHAIN_LAB_PG_URL): never change the server's roles for it. */
export function planPostgres(probe: PostgresProbe, host: HostFacts, port: number, explicit = false): PostgresPlan {
  if (probe.workingUrl !== undefined) return { action: 'use', url: probe.workingUrl };
  const cluster = probe.clusters.find((c) => c.port === port);
  if (probe.listening && explicit) {
    return { action: 'tell', reason: `DELTACHAIN_LAB_PG_URL was refused: ${probe.loginError ?? 'unknown error'}`, commands: ['DELTACHAIN_LAB_PG_URL=postgres://USER:PASSWORD@HOST:PORT/postgres npm run lab   # a login that may create databases'] };
  }
  if (probe.listening) {
    if (host.isRoot && cluster?.online) return { action: 'create-role', cluster };
    return {
      action: 'tell',
      reason: `a Postgres server listens on port ${port} but refused every login tried (${probe.loginError ?? 'unknown error'})`,
      commands: [
        `sudo -u postgres psql -p ${port} -c "CREATE ROLE ${LAB_ROLE.user} LOGIN CREATEDB PASSWORD '${LAB_ROLE.password}'"`,
        `DELTACHAIN_LAB_PG_URL=postgres://${LAB_ROLE.user}:${LAB_ROLE.password}@127.0.0.1:${port}/postgres npm run lab`,
      ],
    };
  }
  if (cluster !== undefined) {
    if (host.isRoot) return { action: 'start-cluster', version: cluster.version, name: cluster.name };
    return { action: 'tell', reason: `the Postgres cluster ${cluster.version}/${cluster.name} is not running`, commands: [`sudo pg_ctlcluster ${cluster.version} ${cluster.name} start`, 'npm run lab'] };
  }
  if (probe.installed && probe.clusters.length === 0) {
    if (host.isRoot) return { action: 'create-cluster', version: '' };
    return { action: 'tell', reason: 'Postgres is installed but has no cluster', commands: ['sudo pg_createcluster --start $(ls /usr/lib/postgresql | sort -n | tail -1) main', 'npm run lab'] };
  }
  if (host.isRoot && host.hasApt) return { action: 'install' };
  return {
    action: 'tell',
    reason: `no Postgres server on port ${port}`,
    commands: ['sudo apt-get install -y postgresql', 'npm run lab   # as root it creates a login for the lab; otherwise set DELTACHAIN_LAB_PG_URL'],
  };
}

export function planNats(probe: NatsProbe, host: HostFacts, url: string): NatsPlan {
  if (probe.listening && probe.jetStream) return { action: 'use' };
  if (probe.listening) {
    return { action: 'tell', reason: `the NATS server at ${url} runs without JetStream`, commands: ['restart it with JetStream enabled: nats-server -js (or "jetstream {}" in its config)', 'npm run lab'] };
  }
  if (probe.binary !== undefined) return { action: 'start', binary: probe.binary };
  if (host.isRoot && host.hasApt) return { action: 'install' };
  return { action: 'tell', reason: `no NATS server at ${url}`, commands: ['sudo apt-get install -y nats-server', 'npm run lab   # starts nats-server -js itself, with its data under .lab/nats'] };
}

/** Parses `pg_lsclusters --no-header` output. */
export function parseClusters(output: string): DebianCluster[] {
  return output
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f.length >= 4 && /^\d+(\.\d+)?$/.test(f[0]!) && /^\d+$/.test(f[2]!))
    .map((f) => ({ version: f[0]!, name: f[1]!, port: Number(f[2]), online: f[3]!.startsWith('online') }));
}
