// Chain digests in the catalogue (disks.chain_digest, hex): recorded with each backup disk from
// the storage agent's summary (backups.ts, record-backups.ts); filled in later for disks recorded
// without one when a scan of the remote reports it (never replaced once set); read for a restore,
// whose host agent checks every disk against it.
import type { BackupFacts } from './backup-facts.js';
import type { Queryable } from './connect-catalog.js';

/** Sets the chain digest of disks of `remote` that have none from what a scan found; the number set. */
export async function fillChainDigests(db: Queryable, remote: string, found: readonly BackupFacts[]): Promise<number> {
  const rows = found.flatMap((b) => b.disks.filter((d) => (d.chainDigest ?? '') !== '').map((d) => ({ backup_id: b.id, disk_key: d.diskKey, digest: d.chainDigest })));
  if (rows.length === 0) return 0;
  const updated = await db`
    update disks d set chain_digest = k.digest
    from jsonb_to_recordset(${db.json(rows as never)}) as k(backup_id text, disk_key text, digest text), backups b
    where b.remote_name = ${remote} and b.id = k.backup_id and d.backup_key = b.key and d.disk_key = k.disk_key
      and d.chain_digest = ''`;
  return updated.count;
}

/** Disk key → hex chain digest of a backup's disks that have one. */
export async function chainDigestsOf(db: Queryable, remote: string, backupId: string): Promise<Record<string, string>> {
  const rows = await db<{ diskKey: string; chainDigest: string }[]>`
    select d.disk_key, d.chain_digest from disks d join backups b on b.key = d.backup_key
    where b.remote_name = ${remote} and b.id = ${backupId} and d.chain_digest <> ''
    order by d.disk_key`;
  return Object.fromEntries(rows.map((r) => [r.diskKey, r.chainDigest]));
}
