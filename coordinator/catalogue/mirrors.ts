// The mirrors table (migration 0013) and the catalogue's views a mirror is planned from: the
// restore points of a VM on the source and on the target, and the mirror tasks still active.
import type { Queryable } from './connect-catalogue.js';
import { classifyCatalogueError, ConflictError, NotFoundError } from './catalogue-errors.js';
import type { MirrorPoint } from '../planner/index.js';

export interface Mirror {
  id: string;
  name: string;
  sourceRemote: string;
  targetRemote: string;
  /** Empty: every VM with backups on the source. */
  vmUuids: string[];
  retention: number;
  enabled: boolean;
  createdAt: Date;
}

export type MirrorInput = Omit<Mirror, 'createdAt'>;

export async function insertMirror(db: Queryable, mirror: MirrorInput, now: Date): Promise<Mirror> {
  try {
    await db`
      insert into mirrors (id, name, source_remote, target_remote, vm_uuids, retention, enabled, created_at)
      values (${mirror.id}, ${mirror.name}, ${mirror.sourceRemote}, ${mirror.targetRemote}, ${mirror.vmUuids}::uuid[],
              ${mirror.retention}, ${mirror.enabled}, ${now})`;
  } catch (error) {
    throw classifyMirrorError(error, mirror);
  }
  return getMirrorByName(db, mirror.name);
}

function classifyMirrorError(error: unknown, mirror: MirrorInput): Error {
  const pg = error as { code?: string; constraint_name?: string };
  if (pg.code === '23503') {
    return new NotFoundError(`creating mirror ${mirror.name}: remote ${mirror.sourceRemote} or ${mirror.targetRemote} is not registered; add it with \`deltachain remote add NAME\``, { cause: error });
  }
  if (pg.code === '23505' && pg.constraint_name === 'mirrors_name_key') return new ConflictError(`a mirror named ${mirror.name} exists; see \`deltachain mirror list\``, { cause: error });
  if (pg.code === '23505') return new ConflictError(`mirror ${mirror.name}: remote ${mirror.sourceRemote} is already mirrored to ${mirror.targetRemote}; see \`deltachain mirror list\``, { cause: error });
  return classifyCatalogueError(error, `creating mirror ${mirror.name}`);
}

export async function listMirrors(db: Queryable): Promise<Mirror[]> {
  return db<Mirror[]>`select * from mirrors order by name`;
}

export async function getMirrorByName(db: Queryable, name: string): Promise<Mirror> {
  const [row] = await db<Mirror[]>`select * from mirrors where name = ${name}`;
  if (!row) throw new NotFoundError(`no mirror named ${name}; see \`deltachain mirror list\``);
  return row;
}

/** The mirrors by id (absent: deleted). */
export async function mirrorsById(db: Queryable, ids: readonly string[]): Promise<Map<string, Mirror>> {
  if (ids.length === 0) return new Map();
  const rows = await db<Mirror[]>`select * from mirrors where id = any(${ids as string[]}::uuid[])`;
  return new Map(rows.map((m) => [m.id, m]));
}

/** The enabled mirrors copying from any of `remotes`. */
export async function mirrorsFrom(db: Queryable, remotes: readonly string[]): Promise<Mirror[]> {
  if (remotes.length === 0) return [];
  return db<Mirror[]>`select * from mirrors where enabled and source_remote = any(${remotes as string[]}::text[]) order by name`;
}

/** Removes a mirror. Its copies stay on the target as backups of their own (no mirror's retention applies). */
export async function deleteMirror(db: Queryable, name: string): Promise<void> {
  const deleted = await db`delete from mirrors where name = ${name}`;
  if (deleted.count === 0) throw new NotFoundError(`no mirror named ${name}; see \`deltachain mirror list\``);
}

/** The VMs with committed backups on `remote`. */
export async function vmsWithBackupsOn(db: Queryable, remote: string): Promise<string[]> {
  const rows = await db<{ vmUuid: string }[]>`select distinct vm_uuid from backups where remote_name = ${remote} and status = 'committed' order by vm_uuid`;
  return rows.map((r) => r.vmUuid);
}

/** The committed restore points of one VM on one remote, oldest first, with their disks. */
export async function mirrorPointsOf(db: Queryable, vmUuid: string, remote: string): Promise<MirrorPoint[]> {
  const rows = await db<{ id: string; takenAt: Date; policyId: string | null; vmName: string; diskKey: string; footerUuid: string; chainDigest: string; parentFooterUuid: string | null }[]>`
    select b.id, b.taken_at, b.policy_id, b.vm_name, d.disk_key, d.footer_uuid::text as footer_uuid, d.chain_digest,
           p.footer_uuid::text as parent_footer_uuid
    from backups b join disks d on d.backup_key = b.key
    left join disks p on p.id = d.parent_id
    where b.vm_uuid = ${vmUuid} and b.remote_name = ${remote} and b.status = 'committed'
    order by b.taken_at, b.created_at, b.id, d.disk_key`;
  const points: MirrorPoint[] = [];
  for (const row of rows) {
    let point = points.at(-1);
    if (point?.id !== row.id) {
      point = { id: row.id, takenAt: row.takenAt, policyId: row.policyId, vmName: row.vmName, disks: [] };
      points.push(point);
    }
    point.disks.push({ diskKey: row.diskKey, footerUuid: row.footerUuid, chainDigest: row.chainDigest, parentFooterUuid: row.parentFooterUuid });
  }
  return points;
}

/** `mirrorId/vmUuid` of every mirror task queued, dispatched or running. */
export async function activeMirrorCopies(db: Queryable): Promise<Set<string>> {
  const rows = await db<{ mirrorId: string; vmUuid: string }[]>`
    select payload->>'mirrorId' as mirror_id, vm_uuid from tasks
    where kind = 'mirror' and state in ('queued', 'dispatched', 'running')`;
  return new Set(rows.map((r) => mirrorCopyKey(r.mirrorId, r.vmUuid)));
}

export const mirrorCopyKey = (mirrorId: string, vmUuid: string): string => `${mirrorId}/${vmUuid}`;

/** Marks a backup of the target as a mirror's copy (its retention applies). */
export async function markMirrorCopy(db: Queryable, remote: string, backupId: string, mirrorId: string): Promise<void> {
  await db`update backups set mirror_id = ${mirrorId} where remote_name = ${remote} and id = ${backupId} and mirror_id is null
           and exists (select 1 from mirrors where id = ${mirrorId})`;
}
