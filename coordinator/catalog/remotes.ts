// The remotes table: storage away from the VMs' SRs, each served by one storage agent.
import type { Queryable } from './connect-catalog.js';
import { classifyCatalogError, NotFoundError } from './catalog-errors.js';

export interface RemoteInput {
  name: string;
  site?: string;
  location?: string;
  description?: string;
}

export interface Remote {
  name: string;
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
    await db`insert into remotes (name, site, location, description)
             values (${input.name}, ${input.site ?? ''}, ${input.location ?? ''}, ${input.description ?? ''})`;
  } catch (error) {
    throw classifyCatalogError(error, `adding remote ${input.name}`);
  }
}

export async function listRemotes(db: Queryable): Promise<Remote[]> {
  return db<Remote[]>`
    select r.name, r.site, r.location, r.description, r.created_at, r.last_scan_at,
           count(b.id) as backup_count, coalesce(sum(b.size_bytes), 0)::bigint as size_bytes
    from remotes r left join backups b on b.remote_name = r.name and b.status = 'committed'
    group by r.name order by r.name`;
}

export async function getRemote(db: Queryable, name: string): Promise<Remote> {
  const [remote] = await db<Remote[]>`
    select r.name, r.site, r.location, r.description, r.created_at, r.last_scan_at,
           count(b.id) as backup_count, coalesce(sum(b.size_bytes), 0)::bigint as size_bytes
    from remotes r left join backups b on b.remote_name = r.name and b.status = 'committed'
    where r.name = ${name} group by r.name`;
  if (!remote) throw new NotFoundError(`no remote named ${name}; see \`deltachain remote list\` or add it with \`deltachain remote add ${name}\``);
  return remote;
}

export async function markRemoteScanned(db: Queryable, name: string, at: Date): Promise<void> {
  await db`update remotes set last_scan_at = ${at} where name = ${name}`;
}
