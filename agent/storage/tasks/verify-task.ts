// The `verify` task: re-read every allocated block of each disk of a backup and of every
// ancestor in its chain, and compare it with the stored checksums (docs/remote-format.md §6).
// Reports each bad block; never modifies anything, so running it twice is harmless.
import { errorMessage } from '../../../shared/errors.js';
import { blockChecksum, digestHex } from '../../../shared/grpc/disk-checksum.js';
import { VhdFile } from '../../../shared/vhd/index.js';
import { readBackupMetadata } from '../backup-metadata.js';
import { ancestry } from '../chain-model.js';
import { StorageNotFoundError } from '../errors.js';
import { validBackupId, validUuid } from '../ids.js';
import { sumsPathOf } from '../remote-layout.js';
import type { RemoteContext } from '../remote-context.js';
import { digestOfSums, readSumsFile } from '../sums-file.js';
import { readVmInventory } from '../vm-inventory.js';

export interface BadBlock {
  diskKey: string;
  path: string;
  index: number;
  reason: string;
}

export interface VerifyOutcome {
  ok: boolean;
  blocksChecked: number;
  badBlocks: BadBlock[];
  problems: string[];
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
  const inventory = await readVmInventory(ctx.layout, vmUuid);
  const out: VerifyOutcome = { ok: true, blocksChecked: 0, badBlocks: [], problems: [] };
  const files: { diskKey: string; path: string }[] = [];
  for (const disk of metadata.disks) {
    const folder = inventory.disks.get(disk.key);
    const file = folder?.model.files.find((f) => `disks/${disk.key}/${f.name}` === disk.file);
    if (!folder || !file) {
      out.problems.push(`disk ${disk.key}: ${disk.file} is missing or unreadable`);
      continue;
    }
    const line = ancestry(folder.model, file);
    if (line[line.length - 1]!.parentUuid !== undefined) out.problems.push(`disk ${disk.key}: the chain of ${disk.file} does not reach a full disk`);
    for (const f of line) files.push({ diskKey: disk.key, path: f.path });
    const sums = await readSumsFile(sumsPathOf(file.path)).catch(() => undefined);
    if (sums && digestHex(digestOfSums(sums.sums)) !== disk.digest) {
      out.problems.push(`disk ${disk.key}: the digest of ${disk.file}'s checksums differs from the metadata's`);
    }
  }
  const total = await countBlocks(files.map((f) => f.path));
  for (const file of files) await verifyFile(ctx, file.diskKey, file.path, out, () => onProgress?.(out.blocksChecked, total));
  out.ok = out.badBlocks.length === 0 && out.problems.length === 0;
  return out;
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

async function verifyFile(ctx: RemoteContext, diskKey: string, path: string, out: VerifyOutcome, progress: () => void): Promise<void> {
  const rel = ctx.layout.relative(path);
  const bad = (index: number, reason: string): void => void out.badBlocks.push({ diskKey, path: rel, index, reason });
  let sums: Map<number, Buffer>;
  try {
    sums = (await readSumsFile(sumsPathOf(path))).sums;
  } catch (error) {
    out.problems.push(`${rel}: checksums unreadable: ${errorMessage(error)}`);
    return;
  }
  let file: VhdFile;
  try {
    file = await VhdFile.open(path);
  } catch (error) {
    out.problems.push(`${rel}: ${errorMessage(error)}`);
    return;
  }
  try {
    if (file.trailingFooterProblem) out.problems.push(`${rel}: ${file.trailingFooterProblem}`);
    const blocks = file.allocatedBlocks();
    for (const index of blocks) {
      const block = await file.readBlock(index);
      out.blocksChecked++;
      const want = sums.get(index);
      if (!block) bad(index, 'block missing');
      else if (!want) bad(index, 'no stored checksum');
      else if (!blockChecksum(block.bitmap, block.data).equals(want)) bad(index, 'checksum mismatch');
      progress();
    }
    const present = new Set(blocks);
    for (const index of sums.keys()) if (!present.has(index)) bad(index, 'block missing (a checksum is stored for it)');
  } finally {
    await file.close();
  }
}
