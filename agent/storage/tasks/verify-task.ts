// The `verify` task: re-read every allocated block of each disk of a backup and of every
// ancestor in its chain, and compare it with the stored checksums (docs/remote-format.md §6);
// check each chain file's `.sums` (trailing hash, digest against the metadata that lists the
// file) and the backup's chain digest against the fold of its chain's checksums. Reports each bad
// block (in `badBlocks`, and one line per file in `problems`), and in `damaged` every backup of
// the VM whose chain holds a damaged file — the one verified and every other one depending on
// that file — so the damage is named where it matters. Never modifies anything, so running it
// twice is harmless.
import { join } from 'node:path';
import { digestHex } from '../../../shared/grpc/disk-checksum.js';
import { errorMessage } from '../../../shared/errors.js';
import { VhdFile } from '../../../shared/vhd/index.js';
import { chainDigestRuleOf, readBackupMetadata, type BackupMetadata, type DiskRecord } from '../backup-metadata.js';
import { ancestry } from '../chain-model.js';
import { computeChainDigest } from '../chain-digest.js';
import { dependentBackups } from '../data-damage.js';
import { StorageChainChangedError, StorageNotFoundError } from '../errors.js';
import { validBackupId, validUuid } from '../ids.js';
import type { RemoteContext } from '../remote-context.js';
import { readVmFolder, type DiskFolder, type VmFolder } from '../vm-folder.js';
import { verifyFile, type FileFindings } from './verify-file.js';

export interface BadBlock {
  diskKey: string;
  path: string;
  index: number;
  reason: string;
}

export interface DamagedBackup {
  backupId: string;
  diskKey: string;
  /** The damaged file, relative to the remote root. */
  path: string;
  /** Bad block indexes in that file (empty when the problem is not a block). */
  blocks: number[];
  reason: string;
}

export interface VerifyOutcome {
  ok: boolean;
  blocksChecked: number;
  badBlocks: BadBlock[];
  problems: string[];
  damaged: DamagedBackup[];
}

interface DiskPlan {
  record: DiskRecord;
  folder: DiskFolder | undefined;
  /** The chain's files, newest first (absolute paths); empty when the disk's own file is missing. */
  files: string[];
}

export async function runVerifyTask(
  ctx: RemoteContext,
  input: { vmUuid: string; backupId: string },
  onProgress?: (done: number, total: number) => void,
): Promise<VerifyOutcome> {
  const vmUuid = validUuid(input.vmUuid, 'VM uuid');
  const backupId = validBackupId(input.backupId);
  const metadata = await readBackupMetadata(ctx.layout.metadataPath(vmUuid, backupId));
  if (!metadata) throw new StorageNotFoundError(`backup ${backupId} of VM ${vmUuid} is not on remote ${ctx.remoteId}`);
  const inventory = await readVmFolder(ctx.layout, vmUuid);
  const out: VerifyOutcome = { ok: true, blocksChecked: 0, badBlocks: [], problems: [], damaged: [] };
  const plans = metadata.disks.map((record) => planDisk(inventory, record));
  const total = await countBlocks(plans.flatMap((p) => p.files));
  const progress = (): void => void onProgress?.(++out.blocksChecked, total);
  for (const plan of plans) await verifyDisk(ctx, metadata, inventory, plan, out, progress);
  out.damaged.sort((a, b) => a.backupId.localeCompare(b.backupId) || a.diskKey.localeCompare(b.diskKey) || a.path.localeCompare(b.path));
  out.ok = out.badBlocks.length === 0 && out.problems.length === 0;
  return out;
}

function planDisk(inventory: VmFolder, record: DiskRecord): DiskPlan {
  const folder = inventory.disks.get(record.key);
  const file = folder?.model.files.find((f) => `disks/${record.key}/${f.name}` === record.file);
  return { record, folder, files: folder && file ? ancestry(folder.model, file).map((f) => f.path) : [] };
}

async function verifyDisk(ctx: RemoteContext, metadata: BackupMetadata, inventory: VmFolder, plan: DiskPlan, out: VerifyOutcome, progress: () => void): Promise<void> {
  const { record, folder } = plan;
  const vmFolder = ctx.layout.vmFolder(metadata.vmUuid);
  const damaged = (path: string, blocks: number[], reason: string): void => {
    const name = path.slice(path.lastIndexOf('/') + 1);
    const ids = folder ? dependentBackups(inventory.backups, folder, name).map((d) => d.backupId) : [metadata.backupId];
    for (const id of ids) out.damaged.push({ backupId: id, diskKey: record.key, path, blocks, reason });
  };
  if (plan.files.length === 0) {
    const path = ctx.layout.relative(join(vmFolder, record.file));
    out.problems.push(`disk ${record.key}: ${path} is missing or unreadable`);
    damaged(path, [], 'the file is missing or unreadable');
    return;
  }
  let clean = true;
  for (const path of plan.files) {
    const shown = ctx.layout.relative(path);
    const findings = await verifyFile({ path, shown, recordedDigest: recordedDigest(inventory, record.key, shown, vmFolder, ctx), onBlock: progress });
    for (const bad of findings.bad) out.badBlocks.push({ diskKey: record.key, ...bad, path: shown });
    const lines = describe(findings);
    out.problems.push(...lines);
    if (lines.length > 0) damaged(shown, findings.bad.map((b) => b.index), lines.join('; '));
    clean &&= lines.length === 0;
  }
  const last = plan.files.at(-1)!;
  if (folder?.model.files.find((f) => f.path === last)?.parentUuid !== undefined) {
    out.problems.push(`disk ${record.key}: the chain of ${record.file} does not reach a full disk`);
    damaged(ctx.layout.relative(last), [], 'its parent is missing or does not match');
  } else if (clean && record.chainDigest !== undefined) {
    await checkChainDigest(ctx, metadata, plan, out, damaged);
  }
}

/** Compares the chain digest recorded at commit with the fold of the chain's checksums now. */
async function checkChainDigest(
  ctx: RemoteContext,
  metadata: BackupMetadata,
  plan: DiskPlan,
  out: VerifyOutcome,
  damaged: (path: string, blocks: number[], reason: string) => void,
): Promise<void> {
  const { record } = plan;
  const own = ctx.layout.relative(plan.files[0]!);
  try {
    const { digest } = await computeChainDigest(ctx, { vmUuid: metadata.vmUuid, backupId: metadata.backupId, diskKey: record.key, path: plan.files[0]! }, { rule: chainDigestRuleOf(record) });
    if (digestHex(digest) === record.chainDigest) return;
    const reason = `the chain digest of disk ${record.key} (${digestHex(digest)}) differs from the one recorded at commit (${record.chainDigest})`;
    out.problems.push(`${own}: ${reason}`);
    out.damaged.push({ backupId: metadata.backupId, diskKey: record.key, path: own, blocks: [], reason });
  } catch (error) {
    out.problems.push(`${own}: the chain digest of disk ${record.key} could not be computed: ${errorMessage(error)}`);
    // A merge that changed the chain while it was read damaged nothing: verify again.
    if (!(error instanceof StorageChainChangedError)) damaged(own, [], 'the chain digest could not be computed');
  }
}

/** One line per file: its bad blocks with their indexes, then its other problems. */
function describe(findings: FileFindings): string[] {
  const lines = findings.problems.map((p) => `${findings.path}: ${p}`);
  if (findings.bad.length === 0) return lines;
  const byReason = new Map<string, number[]>();
  for (const bad of findings.bad) byReason.set(bad.reason, [...(byReason.get(bad.reason) ?? []), bad.index]);
  const parts = [...byReason].map(([reason, indexes]) => `${indexes.join(', ')} (${reason})`);
  const n = findings.bad.length;
  return [`${findings.path}: ${n} bad ${n === 1 ? 'block' : 'blocks'}: ${parts.join('; ')}`, ...lines];
}

/** The digest recorded by the metadata that lists the file as its own disk, when one does. */
function recordedDigest(inventory: VmFolder, diskKey: string, shown: string, vmFolder: string, ctx: RemoteContext): string | undefined {
  for (const backup of inventory.backups) {
    const disk = backup.disks.find((d) => d.key === diskKey && ctx.layout.relative(join(vmFolder, d.file)) === shown);
    if (disk) return disk.digest;
  }
  return undefined;
}

async function countBlocks(paths: string[]): Promise<number> {
  let total = 0;
  for (const path of paths) {
    const file = await VhdFile.open(path).catch(() => undefined);
    if (!file) continue;
    total += file.allocatedBlocks().length;
    await file.close();
  }
  return total;
}
