// Catalogue changes after a storage agent carried out a retention action on a remote: a merge
// turns the child's delta disks into fulls and retires the parent backups; a delete retires one
// backup. Backup ids are per remote, so every statement is scoped by the remote.
import type { Queryable } from './connect-catalog.js';

/** After MergeTask(child) on `remote`: its disks lose their parents, the retired backups are gone. */
export async function applyMerge(db: Queryable, remote: string, childBackupId: string, retiredBackupIds: string[], now: Date): Promise<void> {
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
