// Adopts what a storage agent found on its remote (a scan) into the catalogue: backups the
// catalogue does not know are recorded with their chains — parents before children, so delta
// disks link up — known backups recorded without chain digests get the remote's, and committed
// backups the remote no longer holds are marked deleted. This is how a seeded remote (files copied
// from elsewhere) joins, and how a lost catalogue is rebuilt.
// A remote is not trusted to say what a backup is (scan-trust.ts): a found backup is adopted as
// committed only when the catalogue vouches for its disks (same id, footer uuids and digests, on
// any remote); otherwise it is recorded 'unverified' — listed, never restored or built upon —
// until an operator accepts it (`remote scan --accept`). A known backup whose disks differ from
// the catalogue's is reported as a mismatch and left as it was.
import type { Catalogue, Transaction } from './connect-catalogue.js';
import type { BackupFacts } from './backup-facts.js';
import { recordBackup } from './backups.js';
import { fillChainDigests } from './chain-digests.js';
import { applyDelete } from './retention-updates.js';
import { markRemoteScanned } from './remotes.js';
import { catalogueDisksOf, scanVerdict } from './scan-trust.js';
import { classifyCatalogueError } from './catalogue-errors.js';

export interface AdoptionReport {
  /** Backups recorded by this scan. */
  adopted: string[];
  /** Backups the catalogue already had. */
  known: string[];
  /** Backups the catalogue had as committed that the remote no longer holds (now deleted). */
  missing: string[];
  /** Backups recorded as unverified: the catalogue cannot vouch for them (`remote scan --accept`). */
  unverified: string[];
  /** Known backups whose disks on the remote differ from the catalogue's (left as they were). */
  mismatched: string[];
}

export async function adoptRemoteScan(sql: Catalogue, remote: string, found: BackupFacts[], now: Date): Promise<AdoptionReport> {
  try {
    return (await sql.begin((tx) => adoptRemoteScanIn(tx, remote, found, now))) as AdoptionReport;
  } catch (error) {
    throw classifyCatalogueError(error, `adopting the scan of remote ${remote}`);
  }
}

/** The same, inside a transaction the caller holds. */
export async function adoptRemoteScanIn(tx: Transaction, remote: string, found: BackupFacts[], now: Date): Promise<AdoptionReport> {
  const report: AdoptionReport = { adopted: [], known: [], missing: [], unverified: [], mismatched: [] };
  const trusted: BackupFacts[] = [];
  for (const facts of parentsFirst(found)) {
    const verdict = scanVerdict(remote, facts, await catalogueDisksOf(tx, facts.vmUuid, facts.id));
    if (verdict === 'mismatch') {
      report.mismatched.push(facts.id);
      continue;
    }
    if (verdict !== 'unverified') trusted.push(facts);
    const status = verdict === 'unverified' ? 'unverified' : 'committed';
    if (await recordBackup(tx, { ...facts, remote }, now, status)) (status === 'committed' ? report.adopted : report.unverified).push(facts.id);
    else report.known.push(facts.id);
  }
  // Known backups recorded before their chain digests were: the remote's digests fill them in.
  await fillChainDigests(tx, remote, trusted);
  const ids = found.map((b) => b.id);
  const gone = await tx<{ id: string }[]>`
    select id from backups where remote_name = ${remote} and status in ('committed', 'unverified') and id <> all(${ids}::text[])`;
  for (const { id } of gone) {
    await applyDelete(tx, remote, id, now);
    report.missing.push(id);
  }
  await markRemoteScanned(tx, remote, now);
  return report;
}

/** Orders backups so that a backup comes after every backup holding one of its disks' parents. */
function parentsFirst(backups: BackupFacts[]): BackupFacts[] {
  const byFooter = new Map<string, BackupFacts>();
  for (const b of backups) for (const d of b.disks) byFooter.set(`${b.vmUuid}/${d.diskKey}/${d.footerUuid}`, b);
  const done = new Set<string>();
  const out: BackupFacts[] = [];
  const visit = (b: BackupFacts, depth: number) => {
    if (done.has(b.id) || depth > backups.length) return;
    for (const d of b.disks) {
      const parent = d.parentFooterUuid && byFooter.get(`${b.vmUuid}/${d.diskKey}/${d.parentFooterUuid}`);
      if (parent && parent !== b) visit(parent, depth + 1);
    }
    if (!done.has(b.id)) {
      done.add(b.id);
      out.push(b);
    }
  };
  for (const b of [...backups].sort((x, y) => x.takenAt.getTime() - y.takenAt.getTime())) visit(b, 0);
  return out;
}
