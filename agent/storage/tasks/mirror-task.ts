// The `mirror` task (proto MirrorTask; docs/remote-format.md §7, "Mirrors"): copy one committed
// backup of another remote (the source) to this one (the target), under the same backup id.
//   1. Already committed here with the task's disks (a redelivery): succeed, already_present.
//   2. Read the backup's metadata from the source (GetBackup) and plan each disk (mirror-plan.ts):
//      its own delta onto the chain tail that is its parent here, else the whole disk of that date.
//   3. Remove what an earlier attempt left of the backup (DiscardBackup's logic), then pull each
//      disk in the metadata's order (GetDisk OWN or BLOCKS) through the PutDisk receiver.
//   4. Commit with the source's timestamp, records, policy and disk sources; the commit refuses a
//      disk whose chain digest is not the one the catalogue recorded (MIRROR_DIGEST_MISMATCH).
// Any failure removes what was received for the backup and fails the task naming the mirror,
// backup, VM, both remotes and the disk, with the code and retryability of its cause.
// Idempotent: a redelivery after the commit finds the backup (step 1); one after a failure or a
// crash starts over (step 3 clears the leftovers).
import { join } from 'node:path';
import { digestHex, isPieceRule, WRITE_RULE, type ChecksumRule, type PieceRule } from '../../../shared/grpc/disk-checksum.js';
import { GetDiskFormat } from '../../../shared/grpc/storage-client.js';
import type { BackupMetadata, DiskRecord } from '../backup-metadata.js';
import { readBackupMetadata } from '../backup-metadata.js';
import { computeChainDigest } from '../chain-digest.js';
import { commitBackup, type SentDiskInput } from '../commit-backup.js';
import { discardBackup } from '../discard-backup.js';
import { StorageConflictError, StorageRequestError } from '../errors.js';
import { findBase } from '../has-base.js';
import { validBackupId, validUuid } from '../ids.js';
import { summarize, type BackupSummary } from '../list-backups.js';
import { pullDisk, type PulledDisk } from '../pull-disk.js';
import type { RemoteContext } from '../remote-context.js';
import { SourceRemote, type SourceCredentials } from '../source-remote.js';
import { DEFAULT_UPLOAD_LIMITS } from '../upload-limits.js';
import { MirrorDigestMismatchError, MirrorError, type MirrorSite } from './mirror-errors.js';
import { planMirror, type MirrorMode, type MirrorPlan, type MirrorTaskInput, type PlannedDisk } from './mirror-plan.js';

export interface MirrorInput extends MirrorTaskInput {
  sourceAddress: string;
  /** The read grant's SignedGrant bytes; undefined when the source runs without grants. */
  readGrant: Uint8Array | undefined;
  mirrorName: string;
}

export interface MirrorTaskOptions {
  /** How to reach a source's storage agent; undefined: this agent cannot run mirrors. */
  credentials: SourceCredentials | undefined;
  /** Blocks received of the blocks expected. */
  onProgress?: (done: number, total: number) => void;
  /** Waits until a block of so many bytes may be pulled (bandwidth limits); absent: no wait. */
  take?: ((bytes: number) => Promise<void>) | undefined;
}

export interface MirroredDiskOutcome {
  diskKey: string;
  mode: MirrorMode;
  blockCount: number;
  bytesReceived: number;
}

export interface MirrorOutcome {
  backup: BackupSummary;
  disks: MirroredDiskOutcome[];
  alreadyPresent: boolean;
  bytesReceived: number;
}

export async function runMirrorTask(ctx: RemoteContext, input: MirrorInput, options: MirrorTaskOptions): Promise<MirrorOutcome> {
  const site: MirrorSite = { mirrorName: input.mirrorName, vmUuid: input.vmUuid, backupId: input.backupId, sourceRemoteId: input.sourceRemoteId, targetRemoteId: ctx.remoteId };
  try {
    checkInput(ctx, input);
    const present = await presentCopy(ctx, input);
    if (present) return { backup: summarize(ctx, present), disks: [], alreadyPresent: true, bytesReceived: 0 };
    if (options.credentials === undefined) throw new StorageRequestError('this storage agent has no client credentials to reach another storage agent; it cannot run mirrors');
  } catch (error) {
    throw new MirrorError(site, error);
  }
  const endpoint = { remoteId: input.sourceRemoteId, address: input.sourceAddress, grant: input.readGrant, idleSeconds: (ctx.limits ?? DEFAULT_UPLOAD_LIMITS).idleSeconds };
  let source: SourceRemote | undefined;
  try {
    source = new SourceRemote(endpoint, options.credentials(input.sourceRemoteId));
    return await copyBackup(ctx, source, input, site, options);
  } catch (error) {
    await discardBackup(ctx, { vmUuid: input.vmUuid, backupId: input.backupId }).catch((e: unknown) => ctx.logger.warn({ err: e, vm: input.vmUuid, backupId: input.backupId }, 'mirror leftovers not removed'));
    throw error instanceof MirrorError ? error : new MirrorError(site, error);
  } finally {
    source?.close();
  }
}

function checkInput(ctx: RemoteContext, input: MirrorInput): void {
  validUuid(input.vmUuid, 'VM uuid');
  validBackupId(input.backupId);
  if (input.sourceRemoteId === '' || input.sourceRemoteId === ctx.remoteId) throw new StorageRequestError(`source remote ${JSON.stringify(input.sourceRemoteId)} is not another remote`);
  if (!/^[^\s/]+:\d{1,5}$/.test(input.sourceAddress)) throw new StorageRequestError(`source address ${JSON.stringify(input.sourceAddress)} is not host:port`);
}

/** The backup as committed here when it has exactly the task's disks; refused when it has others. */
async function presentCopy(ctx: RemoteContext, input: MirrorInput): Promise<BackupMetadata | undefined> {
  const metadata = await readBackupMetadata(ctx.layout.metadataPath(input.vmUuid, input.backupId));
  if (!metadata) return undefined;
  const key = (diskKey: string, footerUuid: string): string => `${diskKey}:${footerUuid}`;
  const here = metadata.disks.map((d) => key(d.key, d.footerUuid)).sort().join(',');
  const asked = input.disks.map((d) => key(d.diskKey, d.footerUuid)).sort().join(',');
  if (here !== asked) throw new StorageConflictError(`backup ${input.backupId} is already committed on remote ${ctx.remoteId} with other disks (${here}, the source's are ${asked}); a committed backup never changes`);
  return metadata;
}

async function copyBackup(ctx: RemoteContext, source: SourceRemote, input: MirrorInput, site: MirrorSite, options: MirrorTaskOptions): Promise<MirrorOutcome> {
  const metadata = await source.getBackup(input.vmUuid, input.backupId);
  const plan = planMirror(input, metadata, await parentsHeld(ctx, metadata));
  await discardBackup(ctx, { vmUuid: input.vmUuid, backupId: input.backupId });
  const progress = progressOf(plan, options.onProgress);
  const pulled: PulledDisk[] = [];
  for (const disk of plan.disks) {
    try {
      pulled.push(await copyDisk(ctx, source, input, disk, progress.onBlock, options.take));
    } catch (error) {
      throw new MirrorError({ ...site, diskKey: disk.diskKey }, error);
    }
  }
  const outcome = await commitBackup(ctx, commitInput(input, metadata, plan, pulled), { ruleOf: (diskKey) => commitRuleOf(plan, diskKey), checkDisks: (disks) => checkChainDigests(ctx, input, plan, disks) });
  progress.done();
  const disks = plan.disks.map((d, k) => ({ diskKey: d.diskKey, mode: d.mode, blockCount: pulled[k]!.received.blockCount, bytesReceived: pulled[k]!.bytesReceived }));
  const bytesReceived = disks.reduce((sum, d) => sum + d.bytesReceived, 0);
  ctx.logger.info({ vm: input.vmUuid, backupId: input.backupId, source: input.sourceRemoteId, modes: disks.map((d) => d.mode), bytesReceived }, 'backup mirrored');
  return { backup: summarize(ctx, outcome.metadata), disks, alreadyPresent: false, bytesReceived };
}

/** The disk keys whose source parent is the tail of a committed chain of the same key here. */
async function parentsHeld(ctx: RemoteContext, metadata: BackupMetadata): Promise<Set<string>> {
  const held = new Set<string>();
  for (const record of metadata.disks) {
    if (record.parentFooterUuid === null) continue;
    const base = await findBase(ctx, metadata.vmUuid, record.parentFooterUuid);
    if (base?.diskKey === record.key) held.add(record.key);
  }
  return held;
}

function copyDisk(ctx: RemoteContext, source: SourceRemote, input: MirrorInput, disk: PlannedDisk, onBlock: () => void, take: MirrorTaskOptions['take']): Promise<PulledDisk> {
  const format = disk.mode === 'delta' ? GetDiskFormat.GET_DISK_FORMAT_OWN : GetDiskFormat.GET_DISK_FORMAT_BLOCKS;
  const parts = source.getDisk(input.vmUuid, input.backupId, disk.diskKey, format);
  const expected = { vmUuid: input.vmUuid, backupId: input.backupId, diskKey: disk.diskKey, footerUuid: disk.footerUuid, parentFooterUuid: disk.parentFooterUuid };
  return pullDisk(ctx, parts, expected, onBlock, take);
}

function commitInput(input: MirrorInput, metadata: BackupMetadata, plan: MirrorPlan, pulled: PulledDisk[]): Parameters<typeof commitBackup>[1] {
  const sentDisks: SentDiskInput[] = pulled.map(({ header, received }) => ({ diskKey: header.diskKey, footerUuid: header.footerUuid, virtualSize: header.virtualSize, digest: received.digest }));
  const diskSources = plan.disks.flatMap((d) => (d.vdiUuid !== null && d.snapshotVdiUuid !== null ? [{ diskKey: d.diskKey, vdiUuid: d.vdiUuid, snapshotVdiUuid: d.snapshotVdiUuid }] : []));
  return {
    backupId: input.backupId,
    vmUuid: input.vmUuid,
    timestampMs: plan.timestampMs,
    diskKeys: plan.disks.map((d) => d.diskKey),
    recordsJson: JSON.stringify(metadata.records),
    policyJson: JSON.stringify(metadata.policy),
    diskSources,
    sentDisks,
  };
}

/** The copy's chain digest follows the source's piece rule; a source digest of the whole-block rule (before remote format 5) is checked by a second pass. */
function commitRuleOf(plan: MirrorPlan, diskKey: string): PieceRule {
  const rule = plan.disks.find((d) => d.diskKey === diskKey)?.chainDigestRule ?? WRITE_RULE;
  return isPieceRule(rule) ? rule : WRITE_RULE;
}

/**
 * Each disk's chain digest here must be the one the catalogue recorded at the source, by its rule:
 * the commit's own (the source's piece rule) as it is, or for a source digest of the whole-block
 * rule (a backup committed before remote format 5) the copy's chain digested again by that rule.
 */
async function checkChainDigests(ctx: RemoteContext, input: MirrorInput, plan: MirrorPlan, disks: readonly DiskRecord[]): Promise<void> {
  for (const planned of plan.disks) {
    const expected = planned.expectedChainDigest;
    const record = disks.find((d) => d.key === planned.diskKey);
    if (expected === undefined || record === undefined) continue;
    const actual = planned.chainDigestRule === record.chainDigestRule ? record.chainDigest : await chainDigestByRule(ctx, input, record, planned.chainDigestRule);
    if (actual === expected) continue;
    throw new MirrorDigestMismatchError(
      `disk ${planned.diskKey}: the copy's chain digest is ${actual}, the source backup's is ${expected} (${planned.chainDigestRule} rule); the copy is not the source's backup and nothing was committed — verify backup ${input.backupId} on remote ${input.sourceRemoteId}`,
    );
  }
}

async function chainDigestByRule(ctx: RemoteContext, input: MirrorInput, record: DiskRecord, rule: ChecksumRule): Promise<string> {
  const path = join(ctx.layout.vmFolder(input.vmUuid), record.file);
  const target = { vmUuid: input.vmUuid, backupId: input.backupId, diskKey: record.key, path, uncommitted: true, exclusive: true };
  return digestHex((await computeChainDigest(ctx, target, { rule })).digest);
}

/**
 * Progress in blocks over every disk of the plan. The total counts a delta's own blocks and, for a
 * whole disk, every block of the disk (how many are allocated is known once its stream ends), so
 * `done` reports the end with the blocks that came as the total.
 */
function progressOf(plan: MirrorPlan, onProgress: ((done: number, total: number) => void) | undefined): { onBlock: () => void; done: () => void } {
  const total = plan.disks.reduce((sum, d) => sum + d.expectedBlocks, 0);
  let done = 0;
  return {
    onBlock: () => onProgress?.(Math.min(++done, total), total),
    done: () => onProgress?.(done, done),
  };
}
