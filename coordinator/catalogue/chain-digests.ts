// Chain digests in the catalogue (disks.chain_digest, hex): recorded with each backup disk from
// the storage agent's summary (backups.ts, record-backups.ts); filled in later for disks recorded
// without one when a scan of the remote reports it (never replaced once set); read for a restore,
// whose host agent checks every disk against it.
import type { BackupFacts } from './backup-facts.js';
import type { Queryable } from './connect-catalogue.js';
import { CatalogueError } from './catalogue-errors.js';
import { digestSeal, sealHolds, type SealedFields } from './digest-seals.js';

/** Sets the chain digest of disks of `remote` that have none from what a scan found; the number set. */
export async function fillChainDigests(db: Queryable, remote: string, found: readonly BackupFacts[]): Promise<number> {
  const rows = found.flatMap((b) =>
    b.disks
      .filter((d) => (d.chainDigest ?? '') !== '')
      .map((d) => ({
        backup_id: b.id, disk_key: d.diskKey, digest: d.chainDigest, footer_uuid: d.footerUuid,
        seal: digestSeal({ remote, vmUuid: b.vmUuid, backupId: b.id, diskKey: d.diskKey, footerUuid: d.footerUuid, chainDigest: d.chainDigest ?? '' }),
      })),
  );
  if (rows.length === 0) return 0;
  const updated = await db`
    update disks d set chain_digest = k.digest, digest_seal = k.seal
    from jsonb_to_recordset(${db.json(rows as never)}) as k(backup_id text, disk_key text, digest text, footer_uuid uuid, seal text), backups b
    where b.remote_name = ${remote} and b.id = k.backup_id and d.backup_key = b.key and d.disk_key = k.disk_key
      and d.footer_uuid = k.footer_uuid and d.chain_digest = ''`;
  return updated.count;
}

/**
 * Disk key → hex chain digest of a backup's disks that have one. A digest whose seal does not
 * hold (changed in the database) is refused: a restore checked against it would prove nothing.
 */
export async function chainDigestsOf(db: Queryable, remote: string, backupId: string): Promise<Record<string, string>> {
  const rows = await db<(SealedFields & { seal: string })[]>`
    select b.remote_name as remote, b.vm_uuid, b.id as backup_id, d.disk_key, d.footer_uuid::text as footer_uuid, d.chain_digest, d.digest_seal as seal
    from disks d join backups b on b.key = d.backup_key
    where b.remote_name = ${remote} and b.id = ${backupId} and d.chain_digest <> ''
    order by d.disk_key`;
  const broken = rows.filter((r) => !sealHolds(r));
  if (broken.length > 0) {
    throw new CatalogueError('DIGEST_SEAL_BROKEN', `backup ${backupId} on remote ${remote}: the catalogue's digest of disk ${broken.map((r) => r.diskKey).join(', ')} does not carry the coordinator's seal (keys.digest): it was changed outside Deltachain. Restore another date, and find out who wrote to the database`);
  }
  return Object.fromEntries(rows.map((r) => [r.diskKey, r.chainDigest]));
}
