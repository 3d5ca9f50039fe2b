// Catalogue changes after a storage agent carried out a retention action on a remote: a merge
// turns the child's delta disks into fulls and retires the parent backups; a delete retires one
// backup. Backup ids are per remote, so every statement is scoped by the remote.
// A merged full is larger than the delta it replaced: the merge result reports each merged
// file's size, and the child's disks and the backup's total take it, so `backup list` shows what
// the remote holds.
import type { Queryable } from './connect-catalogue.js';

/**
 * After MergeTask(child) on `remote`: its disks lose their parents and take the merged files'
 * sizes (`sizes`: disk key → bytes, for the disks the agent reported), the retired backups are gone.
 */
export async function applyMerge(db: Queryable, remote: string, childBackupId: string, retiredBackupIds: string[], sizes: readonly { diskKey: string; sizeBytes: number }[], now: Date): Promise<void> {
  await db`
    update disks set kind = 'full', parent_id = null
    where backup_key = (select key from backups where remote_name = ${remote} and id = ${childBackupId})
      and parent_id in (
        select d.id from disks d join backups b on b.key = d.backup_key
        where b.remote_name = ${remote} and b.id = any(${retiredBackupIds}::text[]))`;
  await db`
    update disks set state = 'merged'
    where state = 'present'
      and backup_key in (select key from backups where remote_name = ${remote} and id = any(${retiredBackupIds}::text[]))`;
  await db`
    update backups set status = 'deleted', deleted_at = coalesce(deleted_at, ${now})
    where remote_name = ${remote} and id = any(${retiredBackupIds}::text[])`;
  if (sizes.length > 0) await applyMergedSizes(db, remote, childBackupId, sizes);
}

async function applyMergedSizes(db: Queryable, remote: string, backupId: string, sizes: readonly { diskKey: string; sizeBytes: number }[]): Promise<void> {
  await db`
    update disks d set size_bytes = s.size_bytes
    from unnest(${sizes.map((s) => s.diskKey)}::text[], ${sizes.map((s) => s.sizeBytes)}::bigint[]) as s(disk_key, size_bytes)
    where d.disk_key = s.disk_key
      and d.backup_key = (select key from backups where remote_name = ${remote} and id = ${backupId})`;
  await db`
    update backups b set size_bytes = (select coalesce(sum(size_bytes), 0) from disks where backup_key = b.key)
    where remote_name = ${remote} and id = ${backupId}`;
}

/** After DeleteTask on `remote`: the backup and its disks are gone from it. */
export async function applyDelete(db: Queryable, remote: string, backupId: string, now: Date): Promise<void> {
  await db`
    update disks set state = 'deleted'
    where state = 'present' and backup_key = (select key from backups where remote_name = ${remote} and id = ${backupId})`;
  await db`
    update backups set status = 'deleted', deleted_at = coalesce(deleted_at, ${now})
    where remote_name = ${remote} and id = ${backupId}`;
}
