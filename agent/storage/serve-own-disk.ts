// GetDisk OWN (docs/remote-format.md §7, "Serving a backup's own file"): the blocks of one
// backup's own VHD file as stored, not its chain folded — what a mirror copies onto a chain that
// already holds the parent. The header names the file's parent (its footer uuid; none for a full);
// each allocated block goes in index order with its bitmap as stored: whole when the bitmap marks
// every sector, packed (its marked sectors only) when a delta's block marks some. A full's partly
// marked block goes whole with its stored bytes (a packed block in a full is refused, §7), and so
// does a delta's block that marks none (the receiver refuses an empty packed block, and dropping
// it would change the file's digest). Every checksum sent follows one piece rule (§6), the backup's
// chain digest's (the writers' for a whole-rule backup), whatever rule the file's `.sums` entry
// follows; the trailer's digest is over those checksums (the file's own disk digest when its
// entries follow that rule, as every writer's do).
//
// Checked reads (§6): each block is checked against the file's `.sums` entry, by the rule that
// entry records, before it is sent; a mismatch fails the stream with DATA_DAMAGED. Blocks are read
// one at a time as the consumer pulls. The caller holds the VM's chain read lock for the whole
// stream, as for the other formats (grpc-service.ts).
import { SECTOR_SIZE, type VhdBlock, type VhdFile } from '../../shared/vhd/index.js';
import { DiskDigest, isPieceRule, ruleChecksum, WRITE_RULE, type PieceRule } from '../../shared/grpc/disk-checksum.js';
import { chainDigestRuleOf } from './backup-metadata.js';
import { markedSectors, packBlock } from '../../shared/grpc/packed-block.js';
import type { BlockInput } from './disk-receiver.js';
import { headerPart, type BackupDisk, type ServeDiskRequest, type ServedPart } from './serve-disk.js';
import type { SumsBlockCheck } from './sums-block-check.js';

export async function* serveOwnBlocks({ chain, record, check }: BackupDisk, request: ServeDiskRequest): AsyncGenerator<ServedPart> {
  const file = chain.disks[0]!;
  // The VHD is authoritative for the chain (§4): its own parent link, not the metadata's description.
  const delta = file.isDifferencing;
  const recorded = chainDigestRuleOf(record);
  const rule = isPieceRule(recorded) ? recorded : WRITE_RULE;
  yield headerPart(request, file, record.footerUuid, delta ? file.header.parentUuid : undefined, rule);
  const digest = new DiskDigest();
  for (const index of file.allocatedBlocks()) {
    if (index >= file.blockCount) break;
    const block = await readCheckedBlock(file, check, index, delta);
    const sent = ownBlock(block, file.blockSize, delta, rule, check.fullBlockChecksum(index, rule));
    digest.add(index, sent.checksum);
    yield { kind: 'block', block: sent };
  }
  yield { kind: 'trailer', trailer: { blockCount: digest.count, digest: digest.digest() } };
}

/**
 * Reads block `index` of the file and checks it against its `.sums` entry (layer 0 of the checked
 * chain). A delta's block whose entry covers its marked sectors only is read by its marked runs
 * (the unmarked ones are holes, and zeros); anything else is read as stored.
 */
async function readCheckedBlock(file: VhdFile, check: SumsBlockCheck, index: number, delta: boolean): Promise<VhdBlock> {
  const stored = !delta || (await check.needsStoredBytes(0, index));
  const block = stored ? await file.readBlock(index) : await file.readMarked(index);
  await check.check(0, block!);
  return block!;
}

/** The block as GetDisk OWN sends it: whole or packed (see the header), with its checksum by `rule`. */
export function ownBlock(block: VhdBlock, blockSize: number, delta: boolean, rule: PieceRule, knownChecksum: Buffer | undefined): BlockInput {
  const { index, bitmap, data } = block;
  const marked = markedSectors(bitmap, blockSize);
  const checksum = knownChecksum ?? ruleChecksum(rule, bitmap, data, blockSize);
  const packed = delta && marked > 0 && marked < blockSize / SECTOR_SIZE;
  return { index, bitmap, data: packed ? Buffer.concat(packBlock(data, bitmap, blockSize)) : data, checksum, packed };
}
