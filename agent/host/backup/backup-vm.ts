// Backs up one VM (one task), in the order that keeps the next delta correct whatever fails:
//   1. a redelivered task whose backup is committed reports the first result and stops;
//   2. leftovers of interrupted runs are destroyed (plan-cleanup.ts), and every remote discards
//      what an earlier attempt's uploads of this backup left;
//   3. a new snapshot is taken (skipped VDIs left out) and tagged — or, when an earlier delivery
//      of this task was cut off (its agent killed or restarted), its snapshot is taken up and each
//      remote's upload resumes after the last block it kept (parked-uploads.ts);
//   4. per disk, full or delta (gather-disk-plans.ts), exported and streamed to every remote —
//      once per distinct set of bases among the remotes (one export when their chains agree) —
//      a disk whose export broke or whose storage agent went away is sent again (transfer-disk.ts);
//   5. every remote commits (CommitBackup with the XAPI records); a remote that lost the disks
//      (its storage agent restarted in between) gets them again, once (commit-to-remotes.ts);
//   6. only then the snapshot is marked exported, and the previous references it replaces for
//      all their remotes destroyed.
// Any failure before 6 destroys the new snapshot — unless the commit may have happened unseen,
// then the next attempt decides — leaves the old reference untouched, so the next delta is
// computed against data every remote holds, and asks every remote to discard the upload.
import { DeltachainError } from '../../../shared/errors.js';
import type { Logger } from '../../../shared/logging/index.js';
import { DEFAULT_NBD_CONNECTIONS, DEFAULT_NBD_MAX_IN_FLIGHT } from '../../../shared/nbd/index.js';
import { settleWithLimit } from '../concurrency/semaphore.js';
import { StorageCallError } from '../remote/storage-call-error.js';
import { findReferenceSnapshot, taggedFor, taggedForVm, type TaggedSnapshot } from '../plan/find-reference-snapshot.js';
import { planCleanup } from '../plan/plan-cleanup.js';
import { selectDisks, type DiskSelection } from '../plan/select-disks.js';
import type { SnapshotSummary } from '../plan/snapshot-summary.js';
import { remotesKey, snapshotName, snapshotTags, TAG } from '../plan/snapshot-tags.js';
import { parseXapiDate } from '../plan/xapi-date.js';
import type { HostXapi } from '../xapi/host-xapi.js';
import { XapiCallError } from '../xapi/xapi-call-error.js';
import type { XapiRef, XapiVbd, XapiVdi, XapiVm } from '../xapi/xapi-records.js';
import { outcomeFromListing, parseStoredOutcome } from './backup-outcome.js';
import type { BackupOutcome, BackupRequest, BackupTarget, DiskOutcome } from './backup-types.js';
import { collectBackupRecords } from './collect-backup-records.js';
import { CommitUnconfirmedError, DisksLostError, commitToRemotes } from './commit-to-remotes.js';
import { discardOnRemotes } from './discard-on-remotes.js';
import type { SnapshotDisk } from './backup-types.js';
import { gatherDiskPlans } from './gather-disk-plans.js';
import { enableCbt, purgeSnapshotData } from './cbt-lifecycle.js';
import type { ChangedBlocksMethod, NbdReadOptions } from './open-source.js';
import { PoolSnapshots } from './pool-snapshots.js';
import { DEFAULT_TRANSFER_RETRY, transferDisk, type TransferRetryOptions } from './transfer-disk.js';
import { TransferProgress, type ProgressListener } from './transfer-progress.js';

export interface BackupContext {
  xapi: HostXapi;
  /** Disks of one VM exported at once. */
  disksPerVm: number;
  logger: Logger;
  onProgress?: ProgressListener;
  /** Progress reports at most this often, milliseconds. */
  progressIntervalMs?: number;
  /** Untagged snapshots named by us count as leftovers only when older than this (ms). */
  untaggedGraceMs?: number;
  /** Sending a disk again within the attempt (default DEFAULT_TRANSFER_RETRY). */
  transferRetry?: TransferRetryOptions;
  clock?: () => Date;
  /** How deltas find changed blocks (config `backup.changedBlocks`); absent: the VHD export. */
  changedBlocks?: ChangedBlocksMethod;
  /** NBD reads of the CBT path (config `nbd`). */
  nbd?: NbdReadOptions;
}

/** As the config's defaults (host-agent-config.ts `nbd`). */
const DEFAULT_NBD_READS: NbdReadOptions = { connections: DEFAULT_NBD_CONNECTIONS, maxInFlightBytes: DEFAULT_NBD_MAX_IN_FLIGHT };

interface LiveVm {
  ref: XapiRef;
  record: XapiVm;
}

/** Each remote's disks (remote id → the outcome of the export it took). */
type TargetDisks = Map<string, DiskOutcome[]>;

/** The disks as purging sees them: read over CBT and NBD only if every export read them so. */
function readEverywhereOverCbt(exports: readonly DiskOutcome[][]): DiskOutcome[] {
  const first = exports[0] ?? [];
  return first.map((disk) => (exports.every((e) => e.some((d) => d.diskKey === disk.diskKey && d.readMethod === 'cbt-nbd')) ? disk : { ...disk, readMethod: 'vhd-export' as const }));
}

interface NewSnapshot {
  ref: XapiRef;
  uuid: string;
  takenAt: Date;
  disks: SnapshotDisk[];
}

export class VmNotFoundError extends DeltachainError {
  override name = 'VmNotFoundError';
  constructor(vmUuid: string, cause: unknown) {
    super('VM_NOT_FOUND', `VM ${vmUuid} does not exist on this pool; check the policy's VM list`, { cause, side: 'request' });
  }
}

export function backupVm(context: BackupContext, request: BackupRequest): Promise<BackupOutcome> {
  return new VmBackup(context, request).run();
}

class VmBackup {
  private readonly snapshots: PoolSnapshots;
  private readonly progress: TransferProgress;
  private readonly startedAt = Date.now();
  private readonly removed: Array<{ uuid: string; reason: string }> = [];
  private readonly warnings: string[] = [];
  private readonly logger: Logger;
  /** Remotes left out of this backup after their storage agent failed during the export. */
  private readonly failed = new Map<string, StorageCallError>();
  /** The remotes that committed the backup (all targets but the failed). */
  private committed: readonly BackupTarget[] = [];
  /** This run took up an interrupted delivery's snapshot: the first try of each disk resumes. */
  private resuming = false;

  constructor(
    private readonly context: BackupContext,
    private readonly request: BackupRequest,
  ) {
    this.snapshots = new PoolSnapshots(context.xapi);
    this.progress = new TransferProgress(context.onProgress, context.progressIntervalMs ?? 1000);
    this.logger = context.logger.child({ taskId: request.taskId, vm: request.vmUuid });
  }

  async run(): Promise<BackupOutcome> {
    const vm = await this.findVm();
    const existing = await this.snapshots.list(vm.record);
    // An earlier delivery of this very task that was cut off (its agent killed or restarted)
    // left its snapshot and, on the remotes, its broken uploads: they are taken up, not redone.
    const interrupted = taggedFor(existing, this.scope()).find((t) => t.tags.taskId === this.request.taskId && !t.tags.exported);
    // First the discard: the storage agent runs it after any commit of an earlier attempt still
    // in flight, so what the listing below says is final (committed, or never will be).
    await discardOnRemotes(this.request.targets, this.request.vmUuid, this.logger, 'before sending', { keepParked: interrupted !== undefined });
    const previous = await this.previousDelivery(existing);
    if (previous !== undefined) return previous;
    this.progress.enter('cleanup');
    await this.cleanup(existing, interrupted === undefined ? undefined : this.request.taskId);
    const reference = findReferenceSnapshot(existing, this.scope());
    const selection = await this.selectDisks(vm.record);
    if (this.changedBlocks === 'cbt') await enableCbt(this.context.xapi, selection.disks, this.logger, this.warnings);
    this.progress.enter('snapshot');
    const takenUp = interrupted === undefined ? undefined : await this.takeUp(interrupted, selection);
    const snapshot = takenUp ?? (await this.takeSnapshot(vm, selection, reference));
    this.resuming = takenUp !== undefined;
    let disks: TargetDisks;
    try {
      disks = await this.sendAndCommit(vm, snapshot);
    } catch (error) {
      if (error instanceof CommitUnconfirmedError) this.logger.warn({ snapshot: snapshot.uuid }, 'commit unconfirmed; the new snapshot is kept for the next attempt');
      else await this.discard(snapshot);
      await discardOnRemotes(this.request.targets, this.request.vmUuid, this.logger, 'after a failure');
      throw error;
    }
    this.progress.enter('rotate');
    return this.rotate(vm, snapshot, selection, disks, existing);
  }

  private scope() {
    return { policyId: this.request.policyId, vmUuid: this.request.vmUuid, remotes: remotesKey(this.request.targets.map((t) => t.remoteId)) };
  }

  private async findVm(): Promise<LiveVm> {
    try {
      return await this.context.xapi.getRecordByUuid<XapiVm>('VM', this.request.vmUuid);
    } catch (error) {
      if (error instanceof XapiCallError && error.xapiCode === 'UUID_INVALID') throw new VmNotFoundError(this.request.vmUuid, error);
      throw error;
    }
  }

  /** A redelivery of a task whose backup every remote committed: finish and report it. */
  private async previousDelivery(existing: SnapshotSummary[]): Promise<BackupOutcome | undefined> {
    // By task id, whatever its remote set now (a remote that failed was taken off it).
    const mine = taggedForVm(existing, this.request.policyId, this.request.vmUuid).find((tagged) => tagged.tags.taskId === this.request.taskId);
    if (mine?.tags.exported === true) {
      const stored = parseStoredOutcome(mine.tags.result);
      if (stored !== undefined) return { ...stored, redelivered: true };
    }
    const listed = await Promise.all(
      this.request.targets.map(async (target) => {
        const summary = (await target.storage.listBackups(this.request.vmUuid)).find((b) => b.backupId === target.backupId);
        return summary === undefined ? undefined : { remoteId: target.remoteId, summary };
      }),
    );
    if (listed.some((entry) => entry === undefined)) return undefined;
    const committed = listed as Array<NonNullable<(typeof listed)[number]>>;
    this.logger.info({ backups: committed.map((c) => c.summary.backupId) }, 'backup already committed by an earlier delivery');
    const outcome = parseStoredOutcome(mine?.tags.result) ?? outcomeFromListing(this.request.taskId, this.request.vmUuid, mine?.snapshot.uuid ?? '', committed);
    if (mine !== undefined && !mine.tags.exported) await this.markExported(mine.snapshot.ref, outcome, existing);
    return { ...outcome, redelivered: true };
  }

  /**
   * The snapshot an interrupted delivery of this task took, as this run's own: its disks are the
   * VM's selected disks (else it is destroyed, and a new snapshot taken).
   */
  private async takeUp(interrupted: TaggedSnapshot, selection: DiskSelection): Promise<NewSnapshot | undefined> {
    const { snapshot } = interrupted;
    try {
      const record = await this.context.xapi.getRecord<XapiVm>('VM', snapshot.ref);
      const disks = await this.snapshotDisks(record, selection);
      const takenAt = parseXapiDate(record.snapshot_time) ?? new Date(interrupted.tags.datetime);
      this.logger.info({ snapshot: snapshot.uuid }, 'taking up the snapshot of an interrupted delivery of this task: its uploads resume where they stopped');
      return { ref: snapshot.ref, uuid: snapshot.uuid, takenAt, disks };
    } catch (error) {
      this.logger.warn({ snapshot: snapshot.uuid, err: error }, 'the snapshot of an interrupted delivery cannot be taken up: a new one is taken');
      await this.snapshots.destroy(snapshot).catch(() => undefined);
      this.removed.push({ uuid: snapshot.uuid, reason: `left by an interrupted delivery of task ${this.request.taskId}, and not usable again` });
      return undefined;
    }
  }

  private async cleanup(existing: SnapshotSummary[], currentTaskId: string | undefined): Promise<void> {
    const plan = planCleanup(existing, this.scope(), {
      ...(currentTaskId === undefined ? {} : { currentTaskId }),
      now: this.now(),
      untaggedGraceMs: this.context.untaggedGraceMs ?? 15 * 60_000,
    });
    for (const item of plan) {
      this.logger.info({ snapshot: item.snapshot.uuid, reason: item.reason }, 'destroying leftover snapshot');
      await this.snapshots.destroy(item.snapshot);
      this.removed.push({ uuid: item.snapshot.uuid, reason: item.reason });
      existing.splice(existing.indexOf(item.snapshot), 1);
    }
    // Purged references' CBT metadata left without their snapshot VM; the bases this task asks
    // for stay. Best effort: a leftover is no reason to fail the backup, the next run tries again.
    try {
      const orphans = await this.snapshots.orphanMetadata(this.request.policyId, (await this.findVm()).record, existing, new Set(this.request.targets.flatMap((t) => [...this.basesOf(t).values()])));
      for (const orphan of orphans) {
        this.logger.info({ vdi: orphan.vdi.uuid, reason: orphan.reason }, 'destroying leftover CBT metadata');
        await this.snapshots.destroyVdi(orphan.vdi.ref);
        this.removed.push({ uuid: orphan.vdi.uuid, reason: orphan.reason });
      }
    } catch (error) {
      this.logger.warn({ err: error }, 'leftover CBT metadata not destroyed');
      this.warnings.push(`leftover CBT metadata not destroyed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  private async selectDisks(vm: XapiVm): Promise<DiskSelection> {
    const vbds = new Map<XapiRef, XapiVbd>();
    const vdis = new Map<XapiRef, XapiVdi>();
    for (const ref of vm.VBDs) {
      const vbd = await this.context.xapi.getRecord<XapiVbd>('VBD', ref);
      vbds.set(ref, vbd);
      if (vbd.type === 'Disk' && !vbd.empty) vdis.set(vbd.VDI, await this.context.xapi.getRecord<XapiVdi>('VDI', vbd.VDI));
    }
    const selection = selectDisks(vbds, vdis);
    if (selection.disks.length === 0) throw new DeltachainError('NOTHING_TO_BACK_UP', `VM ${this.request.vmUuid} has no disk to back up (all skipped or none attached)`, { side: 'request' });
    return selection;
  }

  private async takeSnapshot(vm: LiveVm, selection: DiskSelection, reference: TaggedSnapshot | undefined): Promise<NewSnapshot> {
    const name = snapshotName(this.request.policyId, vm.record.name_label);
    const ref = await this.snapshots.take(vm.ref, name, selection.skipped.map((s) => s.vdiRef));
    try {
      const record = await this.context.xapi.getRecord<XapiVm>('VM', ref);
      const takenAt = parseXapiDate(record.snapshot_time) ?? this.now();
      const anyDelta = selection.disks.some((disk) => this.request.targets.some((t) => this.basesOf(t).has(disk.diskKey)));
      const tags = snapshotTags({
        ...this.scope(),
        datetime: takenAt.toISOString(),
        chainLength: anyDelta && reference !== undefined ? reference.tags.chainLength + 1 : 0,
        taskId: this.request.taskId,
        backupIds: this.request.targets.map((t) => t.backupId),
      });
      await this.snapshots.setOtherConfig('VM', ref, tags);
      const disks = await this.snapshotDisks(record, selection);
      for (const disk of disks) await this.snapshots.setOtherConfig('VDI', disk.snapshotVdiRef, { [TAG.vdi]: disk.diskKey, [TAG.policy]: this.request.policyId });
      this.logger.info({ snapshot: record.uuid, disks: disks.length }, 'snapshot taken');
      return { ref, uuid: record.uuid, takenAt, disks };
    } catch (error) {
      await this.discard({ ref, disks: await this.snapshotDisksOf(ref).catch(() => []) });
      throw error;
    }
  }

  private async snapshotDisks(snapshot: XapiVm, selection: DiskSelection): Promise<SnapshotDisk[]> {
    const bySource = new Map(selection.disks.map((disk) => [disk.vdiRef, disk]));
    const out: SnapshotDisk[] = [];
    for (const vbdRef of snapshot.VBDs) {
      const vbd = await this.context.xapi.getRecord<XapiVbd>('VBD', vbdRef);
      if (vbd.type !== 'Disk' || vbd.empty) continue;
      const vdi = await this.context.xapi.getRecord<XapiVdi>('VDI', vbd.VDI);
      const source = bySource.get(vdi.snapshot_of);
      if (source !== undefined) out.push({ diskKey: source.diskKey, snapshotVdiRef: vbd.VDI, snapshotVdiUuid: vdi.uuid, virtualSize: Number(vdi.virtual_size) });
    }
    if (out.length !== selection.disks.length) {
      throw new DeltachainError('SNAPSHOT_INCOMPLETE', `snapshot of VM ${this.request.vmUuid} holds ${out.length} of its ${selection.disks.length} disks`, { side: 'pool' });
    }
    return out;
  }

  private async snapshotDisksOf(ref: XapiRef): Promise<SnapshotDisk[]> {
    const summary = await this.snapshots.read(ref);
    return summary.vdis.map((vdi) => ({ diskKey: vdi.diskKey ?? vdi.uuid, snapshotVdiRef: vdi.ref, snapshotVdiUuid: vdi.uuid, virtualSize: 0 }));
  }

  private basesOf(target: BackupTarget): ReadonlyMap<string, string> {
    return target.bases ?? this.request.bases;
  }

  /**
   * Steps 4 and 5; a remote that lost the disks before its commit is sent them again, once. A
   * remote whose storage agent fails during the export (after transfer-disk's own tries) is left
   * out when others remain: they go on (their uploads resume where they stopped), its task fails
   * with its own error (`failed`). Returns the disks of each remote that took the backup.
   */
  private async sendAndCommit(vm: LiveVm, snapshot: NewSnapshot): Promise<TargetDisks> {
    let targets = this.request.targets;
    const byTarget: TargetDisks = new Map();
    const committed: BackupTarget[] = [];
    for (let round = 1; ; round++) {
      for (const [remoteId, disks] of await this.exportAll(snapshot, targets)) byTarget.set(remoteId, disks);
      targets = targets.filter((t) => !this.failed.has(t.remoteId));
      this.progress.enter('commit');
      try {
        committed.push(...(await this.commit(vm, snapshot, byTarget, targets, committed.length)));
        this.committed = committed;
        return byTarget;
      } catch (error) {
        if (!(error instanceof DisksLostError) || round > 1) throw error;
        this.logger.warn({ reason: error.message }, 'remote lost the disks before the commit; sending them again');
        committed.push(...error.committed);
        targets = error.remaining;
        // A received disk is never replaced: what this attempt's disks left on those remotes
        // (a disk received after the storage agent restarted) goes before they are sent again.
        await discardOnRemotes(targets, this.request.vmUuid, this.logger, 'before sending');
      }
    }
  }

  /** Exports every disk once per group of targets that share their bases, each group's blocks to its remotes. */
  private async exportAll(snapshot: NewSnapshot, targets: readonly BackupTarget[]): Promise<TargetDisks> {
    const groups = new Map<string, BackupTarget[]>();
    for (const target of targets) {
      const key = JSON.stringify([...this.basesOf(target)].sort(([a], [b]) => a.localeCompare(b)));
      groups.set(key, [...(groups.get(key) ?? []), target]);
    }
    if (groups.size > 1) this.logger.info({ exports: groups.size, remotes: [...groups.values()].map((g) => g.map((t) => t.remoteId)) }, 'remotes on different bases: one export per base, from the same snapshot');
    const byTarget: TargetDisks = new Map();
    for (const group of groups.values()) {
      const { disks, targets: took } = await this.exportGroup(snapshot, group, this.basesOf(group[0]!));
      for (const target of took) byTarget.set(target.remoteId, disks);
    }
    if (byTarget.size === 0) throw [...this.failed.values()][0]!;
    return byTarget;
  }

  /**
   * One group's disks. A storage agent's failure that outlived transfer-disk's tries leaves its
   * remote out of this backup while another remote remains (of this group or another): the disks
   * not yet done go on to the others — resuming their uploads — and what is done stays done.
   */
  private async exportGroup(snapshot: NewSnapshot, targets: readonly BackupTarget[], bases: ReadonlyMap<string, string>): Promise<{ disks: DiskOutcome[]; targets: BackupTarget[] }> {
    const { xapi, logger } = this.context;
    let live = [...targets];
    const done: (DiskOutcome | undefined)[] = snapshot.disks.map(() => undefined);
    for (let resume = this.resuming; ; resume = true) {
      let failure: unknown;
      try {
        const plans = await gatherDiskPlans(xapi, this.request.vmUuid, snapshot.disks.map((d) => d.diskKey), bases, live, this.logger);
        this.progress.enter('export');
        const retry = this.context.transferRetry ?? DEFAULT_TRANSFER_RETRY;
        const context = { xapi, vmUuid: this.request.vmUuid, targets: live, timestampMs: snapshot.takenAt.getTime(), progress: this.progress, logger, retry, changedBlocks: this.changedBlocks, nbd: this.context.nbd ?? DEFAULT_NBD_READS };
        const pending = snapshot.disks.flatMap((disk, i) => (done[i] === undefined ? [{ disk, i }] : []));
        const settled = await settleWithLimit(pending, this.context.disksPerVm, ({ disk, i }) => transferDisk({ ...context, logger: this.logger.child({ disk: disk.diskKey }) }, disk, plans[i]!, resume));
        settled.forEach((end, j) => {
          if (end?.ok === true) done[pending[j]!.i] = end.value;
          else if (end?.ok === false) failure ??= end.error;
        });
        // A remote a disk's export dropped (it refused for good) is out of the whole backup.
        for (const disk of done) {
          for (const refusal of disk?.dropped ?? []) {
            const target = live.find((t) => t.remoteId === refusal.remoteId);
            if (target === undefined) continue;
            this.failed.set(target.remoteId, refusal);
            live = live.filter((t) => t !== target);
            this.logger.warn({ remote: target.remoteId, err: refusal, remaining: live.map((t) => t.remoteId) }, 'a remote refused: this backup goes on to the others without it; its task fails');
          }
          if (disk !== undefined) delete disk.dropped;
        }
      } catch (error) {
        failure = error;
      }
      if (failure === undefined) return { disks: done as DiskOutcome[], targets: live };
      const failedCall = failure instanceof StorageCallError ? failure : undefined;
      const lost = failedCall === undefined ? undefined : live.find((t) => t.remoteId === failedCall.remoteId);
      const others = live.length - 1 + this.request.targets.filter((t) => !targets.includes(t) && !this.failed.has(t.remoteId)).length;
      if (lost === undefined || others === 0) throw failure;
      this.failed.set(lost.remoteId, failedCall!);
      live = live.filter((t) => t !== lost);
      this.logger.warn({ remote: lost.remoteId, err: failure, remaining: live.map((t) => t.remoteId) }, 'a remote failed: this backup goes on to the others without it; its task fails');
      if (live.length === 0) return { disks: [], targets: [] };
    }
  }

  /**
   * Commits on each target; one that refuses is left out while another has committed or may still
   * (`alreadyCommitted` counts those of an earlier round): its task fails with its own refusal.
   */
  private async commit(vm: LiveVm, snapshot: NewSnapshot, byTarget: TargetDisks, targets: readonly BackupTarget[], alreadyCommitted: number): Promise<BackupTarget[]> {
    const diskKeyByVdi = new Map(snapshot.disks.map((d) => [d.snapshotVdiRef, d.diskKey]));
    const records = await collectBackupRecords(this.context.xapi, vm, snapshot.ref, diskKeyByVdi);
    const fields = { vmUuid: this.request.vmUuid, timestampMs: snapshot.takenAt.getTime(), recordsJson: JSON.stringify(records), policyJson: this.request.policyJson };
    let left = targets.length + alreadyCommitted;
    const leaveOut = (target: BackupTarget, refusal: StorageCallError): boolean => {
      if (left <= 1) return false;
      left -= 1;
      this.failed.set(target.remoteId, refusal);
      this.logger.warn({ remote: target.remoteId, err: refusal }, 'a remote refused the commit: the backup is committed on the others; its task fails');
      return true;
    };
    return commitToRemotes(targets, fields, (target) => byTarget.get(target.remoteId) ?? [], this.logger, leaveOut);
  }

  private async rotate(vm: LiveVm, snapshot: NewSnapshot, selection: DiskSelection, byTarget: TargetDisks, existing: SnapshotSummary[]): Promise<BackupOutcome> {
    const disks = byTarget.get(this.request.targets[0]!.remoteId) ?? byTarget.get(this.committed[0]!.remoteId) ?? [];
    const exports = [...new Set(byTarget.values())];
    const outcome: BackupOutcome = {
      taskId: this.request.taskId,
      vmUuid: this.request.vmUuid,
      vmName: vm.record.name_label,
      timestamp: snapshot.takenAt.toISOString(),
      backups: this.committed.map((t) => ({ remoteId: t.remoteId, backupId: t.backupId })),
      ...(this.request.targets.length > 1 ? { targetDisks: Object.fromEntries(byTarget) } : {}),
      ...(this.failed.size === 0 ? {} : { failedTargets: [...this.failed].map(([remoteId, e]) => ({ remoteId, code: e.code, message: e.message, retryable: e.retryable, side: e.side ?? '' })) }),
      snapshotUuid: snapshot.uuid,
      disks,
      skippedDisks: selection.skipped.map(({ diskKey, reason }) => ({ diskKey, reason })),
      removedSnapshots: this.removed,
      bytesSent: exports.flat().reduce((sum, d) => sum + d.bytesSent, 0),
      durationMs: Date.now() - this.startedAt,
      redelivered: false,
      warnings: this.warnings,
    };
    if (this.failed.size > 0) {
      await discardOnRemotes(this.request.targets.filter((t) => this.failed.has(t.remoteId)), this.request.vmUuid, this.logger, 'after a failure');
      // The reference of the remotes that took it only: the others keep theirs.
      await this.snapshots.setOtherConfig('VM', snapshot.ref, { [TAG.remotes]: remotesKey(this.committed.map((t) => t.remoteId)), [TAG.backup]: this.committed.map((t) => t.backupId).join(',') });
    }
    await this.markExported(snapshot.ref, outcome, existing);
    if (this.request.purgeSnapshotData === true) await purgeSnapshotData(this.context.xapi, snapshot.disks, readEverywhereOverCbt(exports), this.logger, outcome.warnings);
    return outcome;
  }

  private get changedBlocks(): ChangedBlocksMethod {
    return this.context.changedBlocks ?? 'vhd-export';
  }

  /**
   * Marks the new snapshot exported (with the report), then destroys the previous references it
   * replaces: ours for exactly these remotes, and — when the policy's remotes are known — every
   * other of this policy and VM whose remotes all took this backup or are no longer the policy's
   * (a reference still needed by a remote that did not take part stays).
   */
  private async markExported(ref: XapiRef, outcome: BackupOutcome, existing: SnapshotSummary[]): Promise<void> {
    const previous = this.replacedReferences(existing).filter((tagged) => tagged.snapshot.ref !== ref);
    for (const { snapshot } of previous) outcome.removedSnapshots.push({ uuid: snapshot.uuid, reason: `previous reference, replaced by ${outcome.snapshotUuid}` });
    await this.snapshots.setOtherConfig('VM', ref, { [TAG.result]: JSON.stringify(outcome) });
    await this.snapshots.setOtherConfig('VM', ref, { [TAG.exported]: 'true' });
    for (const { snapshot } of previous) {
      try {
        await this.snapshots.destroy(snapshot);
      } catch (error) {
        const warning = `could not destroy the previous reference ${snapshot.uuid}: ${(error as Error).message}; the next run removes it`;
        this.logger.warn({ snapshot: snapshot.uuid, err: error }, 'previous reference not destroyed');
        outcome.warnings.push(warning);
      }
    }
  }

  private replacedReferences(existing: readonly SnapshotSummary[]): TaggedSnapshot[] {
    const took = new Set(this.committed.map((t) => t.remoteId));
    const policyRemotes = this.request.policyRemotes;
    if (policyRemotes === undefined || policyRemotes.length === 0) return this.failed.size === 0 ? taggedFor(existing, this.scope()) : [];
    const wanted = new Set(policyRemotes);
    return taggedForVm(existing, this.request.policyId, this.request.vmUuid).filter(
      (tagged) => tagged.tags.exported && tagged.tags.remotes.split(',').every((remote) => took.has(remote) || !wanted.has(remote)),
    );
  }

  private async discard(snapshot: { ref: XapiRef; disks: SnapshotDisk[] }): Promise<void> {
    try {
      await this.snapshots.destroy({ ref: snapshot.ref, vdis: snapshot.disks.map((d) => ({ ref: d.snapshotVdiRef, uuid: d.snapshotVdiUuid, diskKey: d.diskKey })) });
      this.logger.info({ snapshot: snapshot.ref }, 'new snapshot destroyed after a failure; the reference is unchanged');
    } catch (error) {
      this.logger.warn({ err: error }, 'could not destroy the new snapshot; the next run removes it');
    }
  }

  private now(): Date {
    return this.context.clock?.() ?? new Date();
  }
}
