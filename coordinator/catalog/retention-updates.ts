// Catalogue changes after a storage agent carried out a retention action: a merge turns the
// child's delta disks into fulls and retires the parent backups; a delete retires one backup.
import type { Queryable } from './connect-catalog.js';

/** After MergeTask(child): its disks lose their parents, the retired backups are gone. */
export async function applyMerge(db: Queryable, childBackupId: string, retiredBackupIds: string[], now: Date): Promise<void> {
  await db`
    update disks set kind = 'full', parent_id = null
    where backup_id = ${childBackupId}
      and parent_id in (select id from disks where backup_id = any(${retiredBackupIds}::text[]))`;
  await db`update disks set state = 'merged' where backup_id = any(${retiredBackupIds}::text[]) and state = 'present'`;
  await db`
    update backups set status = 'deleted', deleted_at = coalesce(deleted_at, ${now})
    where id = any(${retiredBackupIds}::text[])`;
}

/** After DeleteTask: the backup and its disks are gone from the remote. */
export async function applyDelete(db: Queryable, backupId: string, now: Date): Promise<void> {
  await db`update disks set state = 'deleted' where backup_id = ${backupId} and state = 'present'`;
  await db`update backups set status = 'deleted', deleted_at = coalesce(deleted_at, ${now}) where id = ${backupId}`;
}
