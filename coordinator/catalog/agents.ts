// The agents table, kept by heartbeats: which host and storage agents exist, their versions,
// and when each was last heard from. Upserts are idempotent; an older heartbeat arriving late
// (redelivery) never moves `last_heartbeat_at` backwards.
import type { Queryable } from './connect-catalog.js';

export type AgentRole = 'host' | 'storage';

export interface AgentHeartbeat {
  id: string;
  role: AgentRole;
  /** The pool (host role) or remote (storage role) served. */
  target: string;
  version: string;
  hostname?: string;
  /** Storage role: gRPC address "host:port". */
  address?: string;
  runningTasks: number;
  concurrency: number;
  startedAt: Date | null;
  at: Date;
}

export interface AgentRecord {
  id: string;
  role: AgentRole;
  poolName: string | null;
  remoteName: string | null;
  version: string;
  hostname: string;
  address: string;
  runningTasks: number;
  concurrency: number;
  startedAt: Date | null;
  lastHeartbeatAt: Date;
  /** False when the agent serves a pool or remote nobody registered. */
  known: boolean;
}

export async function recordHeartbeat(db: Queryable, beat: AgentHeartbeat): Promise<void> {
  const pool = beat.role === 'host' ? beat.target : null;
  const remote = beat.role === 'storage' ? beat.target : null;
  await db`
    insert into agents (id, role, pool_name, remote_name, version, hostname, address, running_tasks,
                        concurrency, started_at, last_heartbeat_at)
    values (${beat.id}, ${beat.role}, ${pool}, ${remote}, ${beat.version}, ${beat.hostname ?? ''},
            ${beat.address ?? ''}, ${beat.runningTasks}, ${beat.concurrency}, ${beat.startedAt}, ${beat.at})
    on conflict (id) do update set
      role = excluded.role, pool_name = excluded.pool_name, remote_name = excluded.remote_name,
      version = excluded.version, hostname = excluded.hostname, address = excluded.address,
      running_tasks = excluded.running_tasks, concurrency = excluded.concurrency,
      started_at = excluded.started_at, last_heartbeat_at = excluded.last_heartbeat_at
    where agents.last_heartbeat_at <= excluded.last_heartbeat_at`;
}

export async function listAgents(db: Queryable): Promise<AgentRecord[]> {
  return db<AgentRecord[]>`
    select a.*, (p.name is not null or r.name is not null) as known
    from agents a
    left join pools p on p.name = a.pool_name
    left join remotes r on r.name = a.remote_name
    order by a.role, coalesce(a.pool_name, a.remote_name), a.id`;
}

/** The gRPC address of the remote's storage agent heard from most recently, if any. */
export async function storageAddressOf(db: Queryable, remote: string): Promise<string | undefined> {
  const [row] = await db<{ address: string }[]>`
    select address from agents where role = 'storage' and remote_name = ${remote} and address <> ''
    order by last_heartbeat_at desc limit 1`;
  return row?.address;
}
