// The remotes table: storage away from the VMs' SRs, each served by one storage agent at the
// address an operator registered (`remote add --address`, `remote edit`). That address is the
// only one backup and restore tasks and the coordinator's own calls use (registeredAddressOf);
// what a heartbeat claims is shown by `agent list`, never used.
import type { Queryable } from './connect-catalogue.js';
import { classifyCatalogueError, NotFoundError } from './catalogue-errors.js';

export interface RemoteInput {
  name: string;
  /** The storage agent's gRPC address, "host:port" ('' or absent: not known yet). */
  address?: string;
  site?: string;
  location?: string;
  description?: string;
}

export interface Remote {
  name: string;
  /** The registered gRPC address of its storage agent, '' when none. */
  address: string;
  site: string;
  location: string;
  description: string;
  createdAt: Date;
  lastScanAt: Date | null;
  /** Committed backups recorded on this remote. */
  backupCount: number;
  /** Their total size in bytes. */
  sizeBytes: number;
}

export async function addRemote(db: Queryable, input: RemoteInput): Promise<void> {
  try {
    await db`insert into remotes (name, address, site, location, description)
             values (${input.name}, ${input.address ?? ''}, ${input.site ?? ''}, ${input.location ?? ''}, ${input.description ?? ''})`;
  } catch (error) {
    throw classifyCatalogueError(error, `adding remote ${input.name}`);
  }
}

export async function listRemotes(db: Queryable): Promise<Remote[]> {
  return db<Remote[]>`
    select r.name, r.address, r.site, r.location, r.description, r.created_at, r.last_scan_at,
           count(b.id) as backup_count, coalesce(sum(b.size_bytes), 0)::bigint as size_bytes
    from remotes r left join backups b on b.remote_name = r.name and b.status = 'committed'
    group by r.name order by r.name`;
}

export async function getRemote(db: Queryable, name: string): Promise<Remote> {
  const [remote] = await db<Remote[]>`
    select r.name, r.address, r.site, r.location, r.description, r.created_at, r.last_scan_at,
           count(b.id) as backup_count, coalesce(sum(b.size_bytes), 0)::bigint as size_bytes
    from remotes r left join backups b on b.remote_name = r.name and b.status = 'committed'
    where r.name = ${name} group by r.name`;
  if (!remote) throw new NotFoundError(`no remote named ${name}; see \`deltachain remote list\` or add it with \`deltachain remote add ${name}\``);
  return remote;
}

export async function markRemoteScanned(db: Queryable, name: string, at: Date): Promise<void> {
  await db`update remotes set last_scan_at = ${at} where name = ${name}`;
}

/** What `remote edit` may change; absent fields stay. */
export type RemoteChanges = Partial<Pick<Remote, 'address' | 'site' | 'location' | 'description'>>;

export async function editRemote(db: Queryable, name: string, changes: RemoteChanges): Promise<void> {
  try {
    const rows = await db`
      update remotes set
        address = coalesce(${changes.address ?? null}, address),
        site = coalesce(${changes.site ?? null}, site),
        location = coalesce(${changes.location ?? null}, location),
        description = coalesce(${changes.description ?? null}, description)
      where name = ${name} returning name`;
    if (rows.length === 0) throw new NotFoundError(`no remote named ${name}; see \`deltachain remote list\` or add it with \`deltachain remote add ${name} --address HOST:PORT\``);
  } catch (error) {
    throw classifyCatalogueError(error, `editing remote ${name}`);
  }
}

/** The registered gRPC address of the remote's storage agent; undefined when none is. */
export async function registeredAddressOf(db: Queryable, remote: string): Promise<string | undefined> {
  const [row] = await db<{ address: string }[]>`select address from remotes where name = ${remote}`;
  return row?.address || undefined;
}
