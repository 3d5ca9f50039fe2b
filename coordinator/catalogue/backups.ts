// Backups, their disks and the chains the disks form, as the catalogue keeps them. Recording a
// committed backup is idempotent (same id → nothing new) and links each delta disk to its
// parent by footer uuid: the parent must be the newest present disk of that VM disk on that
// remote, and a parent takes one child only (a unique index), so a chain can never fork.
import { randomUUID } from 'node:crypto';
import type { Queryable, Transaction } from './connect-catalogue.js';
import { CatalogueError, ConflictError, NotFoundError } from './catalogue-errors.js';
import type { BackupFacts, DiskFacts } from './backup-facts.js';
import type { DamageRecord } from './disk-damage.js';
import { digestSeal } from './digest-seals.js';

export type BackupStatus = 'committed' | 'deleting' | 'deleted' | 'unverified';

export interface BackupRecord {
  /** The catalogue's key of this backup on this remote. */
  key: string;
  /** The backup id (unique per remote; the same backup copied to another remote keeps it). */
  id: string;
  taskId: string | null;
  runId: string | null;
  policyId: string | null;
  vmUuid: string;
  vmName: string;
  remoteName: string;
  takenAt: Date;
  status: BackupStatus;
  sizeBytes: number;
  metadataPath: string;
  createdAt: Date;
  deletedAt: Date | null;
}

export interface DiskRecord {
  id: string;
  backupKey: string;
  diskKey: string;
  chainId: string;
  position: number;
  parentId: string | null;
  kind: 'full' | 'delta';
  file: string;
  sizeBytes: number;
  virtualSize: number;
  checksum: string;
  footerUuid: string;
  state: 'present' | 'merged' | 'deleted';
  /** Hex chain digest recorded at commit; '' when unknown. */
  chainDigest: string;
}

/** Records a committed backup (or, from a scan the catalogue cannot vouch for, an 'unverified' one); false when the id is known on that remote. */
export async function recordBackup(tx: Transaction, facts: BackupFacts, now: Date, status: 'committed' | 'unverified' = 'committed'): Promise<boolean> {
  const size = facts.disks.reduce((sum, d) => sum + d.sizeBytes, 0);
  const [inserted] = await tx<{ key: string }[]>`
    insert into backups (key, id, task_id, run_id, policy_id, vm_uuid, vm_name, remote_name, taken_at, size_bytes,
                         metadata_path, created_at, status)
    values (${randomUUID()}, ${facts.id}, ${facts.taskId ?? null}, ${facts.runId ?? null}, ${facts.policyId ?? null},
            ${facts.vmUuid}, ${facts.vmName ?? ''}, ${facts.remote}, ${facts.takenAt}, ${size}, ${facts.metadataPath}, ${now}, ${status})
    on conflict (remote_name, id) do nothing
    returning key`;
  if (!inserted) return false;
  for (const disk of [...facts.disks].sort((a, b) => a.diskKey.localeCompare(b.diskKey))) {
    await recordDisk(tx, inserted.key, facts, disk, now);
  }
  return true;
}

async function recordDisk(tx: Transaction, backupKey: string, facts: BackupFacts, disk: DiskFacts, now: Date): Promise<void> {
  let chainId: string;
  let position = 0;
  let parentId: string | null = null;
  if (disk.parentFooterUuid === null) {
    chainId = randomUUID();
    await tx`insert into chains (id, vm_uuid, remote_name, disk_key, created_at)
             values (${chainId}, ${facts.vmUuid}, ${facts.remote}, ${disk.diskKey}, ${now})`;
  } else {
    const parent = await findParent(tx, facts, disk);
    chainId = parent.chainId;
    position = parent.position + 1;
    parentId = parent.id;
  }
  try {
    await tx`
      insert into disks (id, backup_key, disk_key, chain_id, position, parent_id, kind, file, size_bytes,
                         virtual_size, checksum, footer_uuid, chain_digest, digest_seal)
      values (${randomUUID()}, ${backupKey}, ${disk.diskKey}, ${chainId}, ${position}, ${parentId},
              ${parentId === null ? 'full' : 'delta'}, ${disk.file}, ${disk.sizeBytes}, ${disk.virtualSize},
              ${disk.checksum}, ${disk.footerUuid}, ${disk.chainDigest ?? ''},
              ${digestSeal({ remote: facts.remote, vmUuid: facts.vmUuid, backupId: facts.id, diskKey: disk.diskKey, footerUuid: disk.footerUuid, chainDigest: disk.chainDigest ?? '' })})`;
  } catch (error) {
    const constraint = (error as { constraint_name?: string }).constraint_name;
    if (constraint === 'disks_one_child_per_parent' || constraint === 'disks_chain_id_position_key') {
      throw new ConflictError(`backup ${facts.id}: disk ${disk.diskKey} would give parent ${disk.parentFooterUuid} a second child; the chain on remote ${facts.remote} must not fork — scan the remote`, { cause: error });
    }
    throw error;
  }
}

async function findParent(tx: Transaction, facts: BackupFacts, disk: DiskFacts): Promise<DiskRecord> {
  const [parent] = await tx<DiskRecord[]>`
    select d.* from disks d join backups b on b.key = d.backup_key
    where b.remote_name = ${facts.remote} and b.vm_uuid = ${facts.vmUuid} and d.disk_key = ${disk.diskKey}
      and d.footer_uuid = ${disk.parentFooterUuid} and d.state = 'present'
    order by d.position desc limit 1`;
  if (!parent) {
    throw new CatalogueError('PARENT_UNKNOWN', `backup ${facts.id}: disk ${disk.diskKey} is a delta on ${disk.parentFooterUuid}, which the catalogue does not hold for VM ${facts.vmUuid} on remote ${facts.remote}; scan the remote (\`deltachain remote scan ${facts.remote}\`)`);
  }
  return parent;
}

export interface BackupFilter {
  vmUuid?: string;
  remote?: string;
  /** Include deleted backups too. */
  all?: boolean;
}

export interface BackupListing extends BackupRecord {
  /** Its disks' footer uuids by disk key ("key=uuid,…"): the snapshot it was taken from. */
  snapshotKey: string;
  diskCount: number;
  /** Disks that are fulls now (the rest are deltas). */
  fullDiskCount: number;
  /** Damage found on the backup's disks (disk-damage.ts), by disk and file; empty when none. */
  damage: DamageRecord[];
}

export async function listBackups(db: Queryable, filter: BackupFilter = {}): Promise<BackupListing[]> {
  return db<BackupListing[]>`
    select b.*,
      (select count(*) from disks d where d.backup_key = b.key) as disk_count,
      coalesce((select string_agg(d.disk_key || '=' || d.footer_uuid::text, ',' order by d.disk_key) from disks d where d.backup_key = b.key), '') as snapshot_key,
      (select count(*) from disks d where d.backup_key = b.key and d.kind = 'full') as full_disk_count,
      coalesce((
        select jsonb_agg(jsonb_build_object('diskKey', d.disk_key, 'file', x.file, 'blocks', x.blocks, 'reason', x.reason,
                 'foundBy', x.found_by, 'firstFoundAt', x.first_found_at, 'lastFoundAt', x.last_found_at) order by d.disk_key, x.file)
        from disk_damage x join disks d on d.id = x.disk_id where d.backup_key = b.key), '[]') as damage
    from backups b
    where (${filter.vmUuid ?? null}::uuid is null or vm_uuid = ${filter.vmUuid ?? null}::uuid)
      and (${filter.remote ?? null}::text is null or remote_name = ${filter.remote ?? null})
      and (${filter.all ?? false} or status <> 'deleted')
    order by vm_uuid, remote_name, taken_at, created_at, id`;
}

/** A backup by id; `remote` is needed only when the id is on several remotes. */
export async function getBackup(db: Queryable, id: string, remote?: string): Promise<BackupRecord> {
  const found = await db<BackupRecord[]>`
    select * from backups where id = ${id} and (${remote ?? null}::text is null or remote_name = ${remote ?? null})
    order by remote_name`;
  if (found.length === 0) {
    throw new NotFoundError(`no backup with id ${id}${remote === undefined ? '' : ` on remote ${remote}`}; see \`deltachain backup list\``);
  }
  if (found.length > 1) {
    throw new CatalogueError('INVALID_INPUT', `backup ${id} is on several remotes (${found.map((b) => b.remoteName).join(', ')}); say which with --remote`);
  }
  return found[0]!;
}

export async function getBackupByTask(db: Queryable, taskId: string): Promise<BackupRecord | undefined> {
  const [backup] = await db<BackupRecord[]>`select * from backups where task_id = ${taskId}`;
  return backup;
}

/** The disk keys of a backup on a remote (none when the catalogue lacks it). */
export async function diskKeysOfBackup(db: Queryable, remote: string, backupId: string): Promise<string[]> {
  const rows = await db<{ diskKey: string }[]>`
    select d.disk_key from disks d join backups b on b.key = d.backup_key where b.remote_name = ${remote} and b.id = ${backupId} order by d.disk_key`;
  return rows.map((r) => r.diskKey);
}

export async function listDisksOfBackup(db: Queryable, backupKey: string): Promise<DiskRecord[]> {
  return db<DiskRecord[]>`select * from disks where backup_key = ${backupKey} order by disk_key`;
}
