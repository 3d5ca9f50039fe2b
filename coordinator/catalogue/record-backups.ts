// recordBackup and setReference for a batch of backup results, a few
// statements for the whole batch (event-handler.ts applies results a few hundred at a time).
// Same rules as backups.ts: a backup id already recorded on its remote adds nothing; a full
// disk starts a chain; a delta disk continues the chain of the newest present disk of that VM
// disk whose footer uuid is its parent's. Anything the one-by-one path turns into a precise
// error — a parent the catalogue lacks (PARENT_UNKNOWN here too), a second child for a parent,
// two references for one VM in a batch — fails the batch, and the caller applies its results
// one at a time (backups.ts), which says exactly what went wrong.
import { randomUUID } from 'node:crypto';
import type { BackupFacts } from './backup-facts.js';
import { CatalogueError } from './catalogue-errors.js';
import type { Queryable } from './connect-catalogue.js';
import type { ReferenceInput } from './references.js';
import { digestSeal } from './digest-seals.js';

/** Records committed backups; returns the ids (`remote/id`) that were new. */
export async function recordBackups(db: Queryable, batch: readonly BackupFacts[], now: Date): Promise<Set<string>> {
  if (batch.length === 0) return new Set();
  const keyed = batch.map((facts) => ({ facts, key: randomUUID() }));
  const rows = keyed.map(({ facts: f, key }) => ({
    key, id: f.id, task_id: f.taskId ?? null, run_id: f.runId ?? null, policy_id: f.policyId ?? null, vm_uuid: f.vmUuid,
    vm_name: f.vmName ?? '', remote_name: f.remote, taken_at: f.takenAt.toISOString(),
    size_bytes: f.disks.reduce((sum, d) => sum + d.sizeBytes, 0), metadata_path: f.metadataPath,
  }));
  const inserted = await db<{ key: string }[]>`
    insert into backups (key, id, task_id, run_id, policy_id, vm_uuid, vm_name, remote_name, taken_at, size_bytes, metadata_path, created_at)
    select key, id, task_id, run_id, policy_id, vm_uuid, vm_name, remote_name, taken_at, size_bytes, metadata_path, ${now}
    from jsonb_to_recordset(${db.json(rows as never)}) as r(key uuid, id text, task_id uuid, run_id uuid, policy_id uuid,
      vm_uuid uuid, vm_name text, remote_name text, taken_at timestamptz, size_bytes bigint, metadata_path text)
    on conflict (remote_name, id) do nothing
    returning key`;
  const fresh = new Set(inserted.map((r) => r.key));
  const disks = keyed.filter(({ key }) => fresh.has(key)).flatMap(({ facts, key }) => facts.disks.map((disk) => ({ facts, key, disk, id: randomUUID() })));
  const fulls = disks.filter((d) => d.disk.parentFooterUuid === null).map((d) => ({ ...d, chainId: randomUUID() }));
  const deltas = disks.filter((d) => d.disk.parentFooterUuid !== null);
  const parents = await findParents(db, deltas.map((d) => ({ remote: d.facts.remote, vmUuid: d.facts.vmUuid, diskKey: d.disk.diskKey, footerUuid: d.disk.parentFooterUuid! })));
  const missing = deltas.findIndex((_, i) => !parents[i]);
  if (missing >= 0) {
    const { facts, disk } = deltas[missing]!;
    throw new CatalogueError('PARENT_UNKNOWN', `backup ${facts.id}: disk ${disk.diskKey} is a delta on ${disk.parentFooterUuid}, which the catalogue does not hold for VM ${facts.vmUuid} on remote ${facts.remote}; scan the remote (\`deltachain remote scan ${facts.remote}\`)`);
  }
  if (fulls.length > 0) {
    const chains = fulls.map((d) => ({ id: d.chainId, vm_uuid: d.facts.vmUuid, remote_name: d.facts.remote, disk_key: d.disk.diskKey }));
    await db`
      insert into chains (id, vm_uuid, remote_name, disk_key, created_at)
      select id, vm_uuid, remote_name, disk_key, ${now}
      from jsonb_to_recordset(${db.json(chains as never)}) as r(id uuid, vm_uuid uuid, remote_name text, disk_key text)`;
  }
  const diskRows = [
    ...fulls.map((d) => ({ ...diskRow(d), chain_id: d.chainId, position: 0, parent_id: null, kind: 'full' })),
    ...deltas.map((d, i) => ({ ...diskRow(d), chain_id: parents[i]!.chainId, position: parents[i]!.position + 1, parent_id: parents[i]!.id, kind: 'delta' })),
  ];
  if (diskRows.length > 0) {
    await db`
      insert into disks (id, backup_key, disk_key, chain_id, position, parent_id, kind, file, size_bytes, virtual_size, checksum, footer_uuid, chain_digest, digest_seal)
      select id, backup_key, disk_key, chain_id, position, parent_id, kind, file, size_bytes, virtual_size, checksum, footer_uuid, chain_digest, digest_seal
      from jsonb_to_recordset(${db.json(diskRows as never)}) as r(id uuid, backup_key uuid, disk_key text, chain_id uuid,
        position integer, parent_id uuid, kind text, file text, size_bytes bigint, virtual_size bigint, checksum text, footer_uuid uuid, chain_digest text, digest_seal text)`;
  }
  return new Set(keyed.filter(({ key }) => fresh.has(key)).map(({ facts }) => `${facts.remote}/${facts.id}`));
}

function diskRow(d: { key: string; id: string; facts: BackupFacts; disk: BackupFacts['disks'][number] }) {
  const chainDigest = d.disk.chainDigest ?? '';
  return {
    id: d.id, backup_key: d.key, disk_key: d.disk.diskKey, file: d.disk.file, size_bytes: d.disk.sizeBytes,
    virtual_size: d.disk.virtualSize, checksum: d.disk.checksum, footer_uuid: d.disk.footerUuid, chain_digest: chainDigest,
    digest_seal: digestSeal({ remote: d.facts.remote, vmUuid: d.facts.vmUuid, backupId: d.facts.id, diskKey: d.disk.diskKey, footerUuid: d.disk.footerUuid, chainDigest }),
  };
}

interface ParentDisk {
  id: string;
  chainId: string;
  position: number;
}

/** Per wanted parent (in order): the newest present disk of that VM disk with that footer uuid. */
async function findParents(db: Queryable, wanted: readonly { remote: string; vmUuid: string; diskKey: string; footerUuid: string }[]): Promise<(ParentDisk | undefined)[]> {
  if (wanted.length === 0) return [];
  const rows = await db<(ParentDisk & { i: number })[]>`
    select distinct on (k.i) k.i, d.id, d.chain_id, d.position
    from jsonb_to_recordset(${db.json(wanted.map((w, i) => ({ i, remote: w.remote, vm: w.vmUuid, disk_key: w.diskKey, footer: w.footerUuid })) as never)})
      as k(i integer, remote text, vm uuid, disk_key text, footer uuid)
    join backups b on b.remote_name = k.remote and b.vm_uuid = k.vm
    join disks d on d.backup_key = b.key and d.disk_key = k.disk_key and d.footer_uuid = k.footer and d.state = 'present'
    order by k.i, d.position desc`;
  const found: (ParentDisk | undefined)[] = wanted.map(() => undefined);
  for (const row of rows) found[row.i] = { id: row.id, chainId: row.chainId, position: row.position };
  return found;
}

/** setReference for many (at most one per policy, VM and remote). */
export async function setReferences(db: Queryable, refs: readonly ReferenceInput[], now: Date): Promise<void> {
  if (refs.length === 0) return;
  const rows = refs.map((r) => ({ policy_id: r.policyId, vm_uuid: r.vmUuid, remote_name: r.remote, snapshot_uuid: r.snapshotUuid, vdis: r.vdis, taken_at: r.takenAt.toISOString() }));
  await db`
    insert into reference_snapshots (policy_id, vm_uuid, remote_name, snapshot_uuid, vdis, taken_at, updated_at)
    select policy_id, vm_uuid, remote_name, snapshot_uuid, vdis, taken_at, ${now}
    from jsonb_to_recordset(${db.json(rows as never)}) as r(policy_id uuid, vm_uuid uuid, remote_name text, snapshot_uuid uuid, vdis jsonb, taken_at timestamptz)
    on conflict (policy_id, vm_uuid, remote_name) do update set
      snapshot_uuid = excluded.snapshot_uuid, vdis = excluded.vdis, taken_at = excluded.taken_at,
      gone_at = null, updated_at = excluded.updated_at
    where reference_snapshots.taken_at <= excluded.taken_at`;
}
