// Damage found on backups (table disk_damage): a verify task names the damaged backups with the
// file and blocks at fault; a restore that failed on the data names the backup and disk. A
// finding is kept per backup disk and file, so verifying again updates it rather than adding
// one. Findings drive `backup list` and the planner (a chain holding a damaged disk ends: the
// next backup of that disk is a full).
import type { Queryable } from './connect-catalogue.js';

export interface DamageFinding {
  backupId: string;
  /** The disk of the backup; '' when the finding names none (every disk of the backup). */
  diskKey: string;
  /** The damaged VHD (the backup's own or an ancestor's), relative to the remote root; '' when not named. */
  file: string;
  /** Bad block indexes in that file; empty when the damage is not one block. */
  blocks: number[];
  reason: string;
}

export type DamageFoundBy = 'verify' | 'restore';

export interface DamageRecord {
  diskKey: string;
  file: string;
  blocks: number[];
  reason: string;
  foundBy: DamageFoundBy;
  /** ISO-8601. */
  firstFoundAt: string;
  lastFoundAt: string;
}

/** Records findings on `remote`'s backups; findings on backups the catalogue lacks are dropped. Rows written. */
export async function markDamaged(db: Queryable, remote: string, findings: readonly DamageFinding[], foundBy: DamageFoundBy, taskId: string | null, now: Date): Promise<number> {
  const rows = mergeFindings(findings).map((f) => ({ backup_id: f.backupId, disk_key: f.diskKey, file: f.file, blocks: f.blocks, reason: f.reason }));
  if (rows.length === 0) return 0;
  // A finding for every disk ('') and one for a named disk may meet on one row: the named wins.
  const written = await db`
    insert into disk_damage (disk_id, file, blocks, reason, found_by, task_id, first_found_at, last_found_at)
    select distinct on (d.id, k.file) d.id, k.file, k.blocks, k.reason, ${foundBy}, ${taskId}::uuid, ${now}, ${now}
    from jsonb_to_recordset(${db.json(rows as never)}) as k(backup_id text, disk_key text, file text, blocks integer[], reason text)
    join backups b on b.remote_name = ${remote} and b.id = k.backup_id
    join disks d on d.backup_key = b.key and (k.disk_key = '' or d.disk_key = k.disk_key)
    order by d.id, k.file, k.disk_key = ''
    on conflict (disk_id, file) do update set
      blocks = excluded.blocks, reason = excluded.reason, found_by = excluded.found_by, task_id = excluded.task_id,
      last_found_at = greatest(disk_damage.last_found_at, excluded.last_found_at)`;
  return written.count;
}

/** One finding per backup, disk and file: blocks united, the first reason kept. */
function mergeFindings(findings: readonly DamageFinding[]): DamageFinding[] {
  const merged = new Map<string, DamageFinding>();
  for (const f of findings) {
    const key = JSON.stringify([f.backupId, f.diskKey, f.file]);
    const seen = merged.get(key);
    if (!seen) merged.set(key, { ...f, blocks: [...new Set(f.blocks)].sort((a, b) => a - b) });
    else seen.blocks = [...new Set([...seen.blocks, ...f.blocks])].sort((a, b) => a - b);
  }
  return [...merged.values()];
}
