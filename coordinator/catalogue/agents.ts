// The agents table, kept by heartbeats: which host and storage agents exist, their versions,
// and when each was last heard from. An agent is its NATS sender (role, pool or remote, name:
// the subject the server authorised), and `at` is the time JetStream stored the heartbeat —
// neither comes from the message body. Upserts are idempotent; an older heartbeat arriving late
// (redelivery) never moves `last_heartbeat_at` backwards. A storage agent's address is shown,
// and compared with the remote's registered one, never used (remotes.ts registeredAddressOf).
import type { Queryable } from './connect-catalogue.js';

export type AgentRole = 'host' | 'storage';

export interface AgentHeartbeat {
  id: string;
  role: AgentRole;
  /** The pool (host role) or remote (storage role) served. */
  target: string;
  version: string;
  hostname?: string;
  /** Storage role: the gRPC address "host:port" the agent says it serves (shown only). */
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
  /** Storage role: the remote's registered address ('' when none). */
  registeredAddress: string;
  /** Storage role: the agent says it serves an address other than the registered one. */
  addressMismatch: boolean;
}

export async function recordHeartbeat(db: Queryable, beat: AgentHeartbeat): Promise<void> {
  const pool = beat.role === 'host' ? beat.target : null;
  const remote = beat.role === 'storage' ? beat.target : null;
  await db`
    insert into agents (id, role, pool_name, remote_name, version, hostname, address, running_tasks,
                        concurrency, started_at, last_heartbeat_at)
    values (${beat.id}, ${beat.role}, ${pool}, ${remote}, ${beat.version}, ${beat.hostname ?? ''},
            ${beat.address ?? ''}, ${beat.runningTasks}, ${beat.concurrency}, ${beat.startedAt}, ${beat.at})
    on conflict (role, (coalesce(pool_name, remote_name)), id) do update set
      version = excluded.version, hostname = excluded.hostname, address = excluded.address,
      running_tasks = excluded.running_tasks, concurrency = excluded.concurrency,
      started_at = excluded.started_at, last_heartbeat_at = excluded.last_heartbeat_at
    where agents.last_heartbeat_at <= excluded.last_heartbeat_at`;
}

export async function listAgents(db: Queryable): Promise<AgentRecord[]> {
  return db<AgentRecord[]>`
    select a.*, (p.name is not null or r.name is not null) as known,
           coalesce(r.address, '') as registered_address,
           (a.role = 'storage' and coalesce(r.address, '') <> '' and a.address <> r.address) as address_mismatch
    from agents a
    left join pools p on p.name = a.pool_name
    left join remotes r on r.name = a.remote_name
    order by a.role, coalesce(a.pool_name, a.remote_name), a.id`;
}
