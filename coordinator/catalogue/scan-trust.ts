// Which backups a remote scan may adopt as committed (docs/catalogue.md, "Unverified backups").
// The catalogue vouches for a backup it recorded from a backup task: a found backup is adopted as
// committed only when, for every one of its disks, the catalogue holds a disk of a backup with the
// same id and VM (on any remote: a seeded copy of another remote matches) with the same disk key,
// footer uuid and chain digest. The chain digest, not the file's own digest: it is what a restore
// of the backup must produce, and merges keep it (they change the file and its own digest, and
// keep the footer uuid). A disk without a chain digest on either side (recorded before storage
// agents computed one) matches on its footer uuid alone, and never vouches for a backup found
// on another remote. Anything else — a planted delta on top of a known chain, a whole remote
// the catalogue never saw — is recorded 'unverified' until an operator accepts it. A backup the
// catalogue already holds on this remote whose disks differ from what the scan found is a
// mismatch: reported, left as it is.
import type { BackupFacts } from './backup-facts.js';
import type { Queryable } from './connect-catalogue.js';
import type { DamageFinding } from './disk-damage.js';
import { sealHolds, type SealedFields } from './digest-seals.js';

export type ScanVerdict = 'vouched' | 'unverified' | 'known' | 'mismatch';

interface CatalogueDisk {
  remote: string;
  diskKey: string;
  footerUuid: string;
  /** Hex; '' when unknown. */
  chainDigest: string;
  /** False when the row's digest seal (digest-seals.ts) does not hold: it vouches for nothing. */
  sealed: boolean;
}

/** Whether a found disk is the catalogue's: footer uuid, and chain digest when both have one. */
function sameDisk(c: CatalogueDisk, d: BackupFacts['disks'][number]): boolean {
  const found = d.chainDigest ?? '';
  return c.sealed && c.diskKey === d.diskKey && c.footerUuid === d.footerUuid && (c.chainDigest === '' || found === '' || c.chainDigest === found);
}

/** The catalogue's disks of backups with this id and VM, on every remote. */
export async function catalogueDisksOf(db: Queryable, vmUuid: string, backupId: string): Promise<CatalogueDisk[]> {
  const rows = await db<(SealedFields & { seal: string })[]>`
    select b.remote_name as remote, b.vm_uuid, b.id as backup_id, d.disk_key, d.footer_uuid::text as footer_uuid, d.chain_digest, d.digest_seal as seal
    from backups b join disks d on d.backup_key = b.key
    where b.vm_uuid = ${vmUuid} and b.id = ${backupId} and b.status <> 'unverified'`;
  return rows.map((r) => ({ remote: r.remote, diskKey: r.diskKey, footerUuid: r.footerUuid, chainDigest: r.chainDigest, sealed: sealHolds(r) }));
}

/** The verdict on one found backup, from the catalogue's disks of that id (pure). */
export function scanVerdict(remote: string, found: BackupFacts, catalogue: readonly CatalogueDisk[]): ScanVerdict {
  const same = sameDisk;
  const here = catalogue.filter((c) => c.remote === remote);
  if (here.length > 0) {
    const matches = here.length === found.disks.length && found.disks.every((d) => here.some((c) => same(c, d)));
    return matches ? 'known' : 'mismatch';
  }
  const byRemote = new Map<string, CatalogueDisk[]>();
  for (const c of catalogue) byRemote.set(c.remote, [...(byRemote.get(c.remote) ?? []), c]);
  for (const disks of byRemote.values()) {
    const proven = (d: BackupFacts['disks'][number]) => disks.some((c) => c.chainDigest !== '' && same(c, d));
    if (disks.length === found.disks.length && found.disks.every(proven)) return 'vouched';
  }
  return 'unverified';
}

/** Accepts the unverified backups of `remote` (an operator's decision): they become committed; their ids. */
export async function acceptUnverified(db: Queryable, remote: string): Promise<string[]> {
  const rows = await db<{ id: string }[]>`
    update backups set status = 'committed' where remote_name = ${remote} and status = 'unverified' returning id`;
  return rows.map((r) => r.id).sort();
}

/**
 * A verify's check of the remote against the catalogue: for each disk of a backup as the remote
 * lists it, a finding when its footer uuid or chain digest differs from the catalogue's (the
 * remote's sums beside the data may have been rewritten with it; the catalogue's were recorded
 * when the backup was committed). Chain digests are compared when both sides have one; the
 * file's own digest is not (a merge changes it).
 */
export async function catalogueMismatches(db: Queryable, remote: string, found: BackupFacts): Promise<DamageFinding[]> {
  const rows = await db<(SealedFields & { seal: string })[]>`
    select b.remote_name as remote, b.vm_uuid, b.id as backup_id, d.disk_key, d.footer_uuid::text as footer_uuid, d.chain_digest, d.digest_seal as seal
    from disks d join backups b on b.key = d.backup_key
    where b.remote_name = ${remote} and b.id = ${found.id} and b.vm_uuid = ${found.vmUuid} and d.state = 'present'`;
  const findings: DamageFinding[] = [];
  for (const row of rows) {
    const disk = found.disks.find((d) => d.diskKey === row.diskKey);
    if (!sealHolds(row)) {
      const reason = "the catalogue's digest of this disk does not carry the coordinator's seal (keys.digest): it was changed in the database, outside Deltachain";
      findings.push({ backupId: found.id, diskKey: row.diskKey, file: disk?.file ?? '', blocks: [], reason });
      continue;
    }
    const problem =
      disk === undefined ? 'the remote no longer lists this disk'
      : disk.footerUuid !== row.footerUuid ? `the remote's footer uuid ${disk.footerUuid} differs from the catalogue's ${row.footerUuid}`
      : (disk.chainDigest ?? '') !== '' && row.chainDigest !== '' && disk.chainDigest !== row.chainDigest ? `the remote's chain digest ${disk.chainDigest} differs from the catalogue's ${row.chainDigest}`
      : undefined;
    if (problem !== undefined) findings.push({ backupId: found.id, diskKey: row.diskKey, file: disk?.file ?? '', blocks: [], reason: `${problem}: the backup was rewritten on the remote` });
  }
  return findings;
}
