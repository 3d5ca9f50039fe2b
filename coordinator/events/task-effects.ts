// What a successful task changes in the catalogue, applied in the transaction that marks the
// task succeeded (so a crash leaves either both or neither):
//   backup  → record the backup and its disks in their chains; move the reference snapshot
//   merge   → the child's disks become fulls (with the merged files' sizes), the retired backups
//             are gone
//   delete  → the backup is gone
//   scan    → adopt what the remote holds
//   release → the released references' rows are gone
//   verify  → the damaged backups it found are marked (disk-damage.ts)
//   mirror  → record the copy on the target, by the catalogue's facts of the source backup
//   restore → nothing beyond the stored result
// A task that failed for good can change it too (applyFailureEffects): a restore that failed on
// the data marks its backup's disk damaged.
// Each is idempotent: applying the same result twice changes nothing more.
// `applyBackupEffects` does for a batch of backup results what applyTaskEffects does for each,
// in a few statements for the whole batch (catalogue/record-backups.ts).
import type { BackupFacts, TaskOf, TaskRecord, Transaction } from '../catalogue/index.js';
import { adoptRemoteScanIn, applyDelete, catalogueMismatches, applyMerge, diskKeysOfBackup, forgetReleasedReferences, markDamaged, recordBackup, recordBackups, setReference, setReferences, type ReferenceInput } from '../catalogue/index.js';
import type { TaskFailure } from '../lifecycle/index.js';
import { DATA_ERROR_CODES, restoreFinding, verifyFindings } from './damage-findings.js';
import { DeltachainError } from '../../shared/errors.js';
import type { TaskOutput } from './agent-event.js';
import { UUID_PATTERN } from '../../shared/ids.js';
import { markMirrorCopy } from '../catalogue/mirrors.js';


/** Finds a committed backup's facts on its remote when a result does not carry them. */
export interface BackupLookup {
  findBackup(task: TaskRecord, backupId: string): Promise<BackupFacts | undefined>;
  /** Many at once (a batch of results); task id → facts, absent when not found. Optional. */
  findBackups?(wanted: readonly { task: TaskRecord; backupId: string }[]): Promise<Map<string, BackupFacts>>;
}

/** Returns the result to store with the task. */
export async function applyTaskEffects(tx: Transaction, task: TaskRecord, output: TaskOutput | undefined, lookup: BackupLookup, now: Date): Promise<unknown> {
  switch (task.kind) {
    case 'backup':
      return (await applyBackupEffects(tx, [{ task, output }], lookup, now))[0];
    case 'merge': {
      const payload = task.payload;
      const retired = output?.kind === 'merge' && output.retiredBackupIds.length > 0 ? output.retiredBackupIds : payload.retires;
      await applyMerge(tx, task.address, payload.backupId, retired, output?.kind === 'merge' ? output.diskSizes : [], now);
      return output ?? { retiredBackupIds: retired };
    }
    case 'delete':
      await applyDelete(tx, task.address, task.payload.backupId, now);
      return output ?? {};
    case 'scan': {
      const backups = output?.kind === 'scan' ? output.backups : [];
      const report = await adoptRemoteScanIn(tx, task.address, backups, now);
      return { ...report, garbage: output?.kind === 'scan' ? output.garbage : 0, resumedMerges: output?.kind === 'scan' ? output.resumedMerges : [] };
    }
    case 'release': {
      const payload = task.payload;
      // No VM named means every VM of the pool only for a deleted policy (a narrowed list that
      // became empty was never sent: prepare-dispatch.ts).
      const everyVm = payload.vmUuids.length === 0 && payload.reason === 'policy-deleted';
      const forgotten = payload.vmUuids.length === 0 && !everyVm ? 0 : await forgetReleasedReferences(tx, { policyId: payload.policyId, pool: task.address, vmUuids: payload.vmUuids, keepRemotes: payload.keepRemotes });
      return {
        destroyedSnapshotUuids: output?.kind === 'release' ? output.destroyedSnapshotUuids : [],
        destroyedOrphanVdiUuids: output?.kind === 'release' ? (output.destroyedOrphanVdiUuids ?? []) : [],
        forgottenReferences: forgotten,
      };
    }
    case 'verify': {
      if (output?.kind !== 'verify') return output ?? {};
      const { badBlockList: _list, ...stored } = output;
      const backupId = task.payload.backupId;
      const damaged = verifyFindings(backupId, output);
      // The remote's own check compares data with the sums beside it; the catalogue's digests,
      // recorded at commit, catch a backup whose data and sums were rewritten together.
      const listed = await lookup.findBackup(task, backupId).catch(() => undefined);
      const rewritten = listed === undefined ? [] : await catalogueMismatches(tx, task.address, listed);
      damaged.push(...rewritten);
      await markDamaged(tx, task.address, damaged, 'verify', task.id, now);
      return { ...stored, ...(rewritten.length > 0 ? { ok: false } : {}), damaged };
    }
    case 'restore':
      return output ?? {};
    case 'mirror':
      return applyMirrorEffects(tx, task, output, lookup, now);
  }
}

/**
 * A copy lands as a backup of the target remote with the source's backup id, policy and VM name,
 * marked as the mirror's. Its chain digests must be the ones the catalogue recorded on the source
 * (the target's storage agent checked them before committing; a result that says otherwise is
 * refused here, and nothing is recorded).
 */
async function applyMirrorEffects(tx: Transaction, task: TaskOf<'mirror'>, output: TaskOutput | undefined, lookup: BackupLookup, now: Date): Promise<unknown> {
  const p = task.payload;
  const facts = (output?.kind === 'mirror' ? output.backup : undefined) ?? (await lookup.findBackup(task, p.backupId));
  if (!facts) throw new DeltachainError('BACKUP_NOT_FOUND', `mirror ${p.mirrorName}: task ${task.id} reports backup ${p.backupId} copied, but remote ${task.address} does not list it yet`, { retryable: true });
  const differing = p.disks.filter((d) => d.chainDigest !== '' && facts.disks.find((f) => f.diskKey === d.diskKey)?.chainDigest !== d.chainDigest);
  if (differing.length > 0) {
    throw new DeltachainError('MIRROR_DIGEST_MISMATCH', `mirror ${p.mirrorName}: the copy of backup ${p.backupId} on remote ${task.address} does not restore what the source's did (chain digest of disk ${differing.map((d) => d.diskKey).join(', ')}); not recorded — verify both remotes`);
  }
  await recordBackup(tx, { ...facts, id: p.backupId, remote: task.address, taskId: task.id, runId: task.runId, policyId: p.policyId, vmName: p.vmName }, now);
  await markMirrorCopy(tx, task.address, p.backupId, p.mirrorId);
  const report = output?.kind === 'mirror' ? output : undefined;
  return { backupId: p.backupId, sourceRemote: p.sourceRemote, alreadyPresent: report?.alreadyPresent ?? false, bytesReceived: report?.bytesReceived ?? 0, disks: report?.disks ?? [] };
}

/**
 * What a task that failed for good changes in the catalogue: a restore that failed on the data
 * marks the disk of the backup it restored damaged (damage-findings.ts). Idempotent.
 */
export async function applyFailureEffects(tx: Transaction, task: TaskRecord, failure: TaskFailure, now: Date): Promise<void> {
  if (task.kind !== 'restore' || !DATA_ERROR_CODES.has(failure.code)) return;
  const backupId = task.payload.backupId;
  const finding = restoreFinding(backupId, failure, await diskKeysOfBackup(tx, task.remoteName!, backupId));
  if (finding) await markDamaged(tx, task.remoteName!, [finding], 'restore', task.id, now);
}

/**
 * applyTaskEffects for backup tasks (one result each), a few statements for all of them; the
 * results, in order. One result alone is recorded by the one-by-one statements (backups.ts),
 * whose errors say exactly what went wrong (a batch fails as a whole: record-backups.ts).
 */
export async function applyBackupEffects(tx: Transaction, items: readonly { task: TaskOf<'backup'>; output: TaskOutput | undefined }[], lookup: BackupLookup, now: Date): Promise<unknown[]> {
  const prepared = await Promise.all(items.map(async ({ task, output }) => {
    const payload = task.payload;
    const backupId = output?.kind === 'backup' && output.backupId !== '' ? output.backupId : payload.backupId;
    const facts = (output?.kind === 'backup' ? output.backup : undefined) ?? (await lookup.findBackup(task, backupId));
    if (!facts) {
      throw new DeltachainError('BACKUP_NOT_FOUND', `task ${task.id} reports backup ${backupId} committed, but remote ${task.remoteName} does not list it yet`, { retryable: true });
    }
    const snapshotUuid = output?.kind === 'backup' ? output.snapshotUuid.toLowerCase() : '';
    return { task, output, payload, backupId, facts, snapshotUuid };
  }));
  const records = prepared.map(({ task, payload, facts }) => ({ ...facts, remote: task.remoteName!, taskId: task.id, runId: task.runId, policyId: payload.policyId, vmName: payload.vmName }));
  const references: ReferenceInput[] = prepared.filter((p) => UUID_PATTERN.test(p.snapshotUuid)).map(({ task, payload, facts, snapshotUuid }) => ({
    policyId: payload.policyId, vmUuid: task.vmUuid!, remote: task.remoteName!, snapshotUuid, vdis: Object.fromEntries(facts.disks.map((d) => [d.diskKey, d.footerUuid])), takenAt: facts.takenAt,
  }));
  if (records.length === 1) {
    await recordBackup(tx, records[0]!, now);
    if (references[0]) await setReference(tx, references[0], now);
  } else {
    await recordBackups(tx, records, now);
    await setReferences(tx, references, now);
  }
  return prepared.map(({ output, backupId, snapshotUuid, facts }) => ({
    backupId,
    snapshotUuid,
    bytesSent: output?.kind === 'backup' ? output.bytesSent : 0,
    disks: facts.disks.length,
    // How the host agent read each disk (read method, CBT fallback): `run show` prints it.
    reads: output?.kind === 'backup' ? (output.reads ?? []) : [],
  }));
}
