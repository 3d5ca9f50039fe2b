// GetDisk, the restore side: serves one disk of a committed backup with its chain folded in, either
// as its allocated blocks (newest data, full bitmaps, checksums and digest, so the reader can
// verify) or as one dynamic VHD byte stream (the VHD module's synthetic stream). Blocks are read
// as the consumer pulls (the VHD stream a few ahead): the disk is never held in memory. Every
// block read is checked against the checksums stored at commit (checked-chain.ts): damaged data
// fails the stream with DATA_LOSS rather than reaching the consumer. The VHD stream reads the
// chain past the page cache (direct-io.ts): a restore reads it once, mostly long after it was
// written.
//
// No merge runs under an open chain: GetDisk holds the VM's chain read lock for the whole stream
// (grpc-service.ts, chain-locks.ts). A merge rewrites the full's blocks in place and may move
// them to grow its BAT, which a reader opened earlier would read wrong (docs/remote-format.md §10,
// shown by test/storage-merge-reads.test.ts).
import { bitmapSize, type ChainReader, type VhdFile } from '../../shared/vhd/index.js';
import { syntheticVhdChunks } from '../../shared/vhd/synthetic-stream.js';
import { ReusedBuffers } from '../../shared/reused-buffers.js';
import { AlignedBufferPool, alignedBuffer } from '../../shared/vhd/direct-io.js';
import { chainDigestRuleOf, readBackupMetadata, type DiskRecord } from './backup-metadata.js';
import { DiskDigest, foldedTerm, type ChecksumRule } from '../../shared/grpc/disk-checksum.js';
import { openCheckedChain } from './checked-chain.js';
import type { BlockInput, DiskHeaderInput, TrailerInput } from './disk-receiver.js';
import type { SumsBlockCheck } from './sums-block-check.js';
import { StorageNotFoundError } from './errors.js';
import { validBackupId, validDiskKey, validUuid } from './ids.js';
import type { RemoteContext } from './remote-context.js';
import { join } from 'node:path';

/** A VHD footer's timestamp counts seconds from this date. */
const VHD_EPOCH_MS = Date.parse('2000-01-01T00:00:00Z');

export interface ServeDiskRequest {
  vmUuid: string;
  backupId: string;
  diskKey: string;
}

export type ServedPart =
  | { kind: 'header'; header: DiskHeaderInput }
  | { kind: 'block'; block: BlockInput }
  | { kind: 'trailer'; trailer: TrailerInput };

export interface BackupDisk {
  /** Every block read is checked; close it when done (that closes the tables too). */
  chain: ChainReader;
  record: DiskRecord;
  check: SumsBlockCheck;
}

/**
 * Blocks a VHD download reads ahead of the one being sent, unless `storage.restoreReadAheadBlocks`
 * says otherwise. Its chain is read past the page cache and a block's layers one after another,
 * so a block waits on the disk once per layer it needs: the blocks in flight, not the disk's
 * speed, set the pace (docs/performance-notes.md, "Restore: enough reads in flight": 16 ahead
 * restored the suite's 20-deep chain in 4.8–5.0 s where 4 took 5.8–6.6).
 */
export const GET_DISK_READ_AHEAD = 16;

/**
 * Layer buffers (~2 MiB each) a served chain holds at most. A block whose newest layer marks it
 * only in part holds one while its older layers are read; past this many such blocks wait for a
 * buffer instead of each holding one (8 restored as fast as 16, ~16 MiB less: the performance
 * notes' section above).
 */
export const SERVED_CHAIN_LAYER_BUFFERS = 8;

/** Block buffers a download keeps besides those read ahead: the one being sent and the two still in the transport's window. */
const BLOCKS_IN_TRANSIT = 3;

/**
 * The agent's pool of aligned block and layer buffers for downloads, sized to keep one download's
 * at `readAhead` (a second download at once makes its own, left to the collector after).
 */
export function restoreBufferPool(readAhead: number): AlignedBufferPool {
  return new AlignedBufferPool(readAhead + BLOCKS_IN_TRANSIT + SERVED_CHAIN_LAYER_BUFFERS);
}

/** Finds the disk of a committed backup and opens its chain, checked. Close the chain when done. */
export async function openBackupDisk(ctx: RemoteContext, request: ServeDiskRequest): Promise<BackupDisk> {
  const vmUuid = validUuid(request.vmUuid, 'VM uuid');
  const backupId = validBackupId(request.backupId);
  const diskKey = validDiskKey(request.diskKey);
  const metadata = await readBackupMetadata(ctx.layout.metadataPath(vmUuid, backupId));
  if (!metadata) throw new StorageNotFoundError(`backup ${backupId} of VM ${vmUuid} is not on remote ${ctx.remoteId}`);
  const record = metadata.disks.find((d) => d.key === diskKey);
  if (!record) throw new StorageNotFoundError(`backup ${backupId} of VM ${vmUuid} has no disk ${diskKey}`);
  const path = join(ctx.layout.vmFolder(vmUuid), record.file);
  const { chain, check } = await openCheckedChain(ctx, { vmUuid, backupId, diskKey, path, directReads: true, layerBuffers: SERVED_CHAIN_LAYER_BUFFERS, bufferPool: ctx.restoreBuffers });
  return { chain, record, check };
}

export async function* serveBlocks({ chain, record, check }: BackupDisk, request: ServeDiskRequest): AsyncGenerator<ServedPart> {
  const head = chain.disks[0]!;
  // Block checksums by the rule of the backup's chain digest: the trailer's digest is that digest.
  const rule = chainDigestRuleOf(record);
  yield headerPart(request, head, record.footerUuid, undefined, rule);
  const bitmap = Buffer.alloc(bitmapSize(chain.blockSize), 0xff);
  const digest = new DiskDigest();
  const count = Math.ceil(chain.currentSize / chain.blockSize);
  for (let index = 0; index < count; index++) {
    if (!chain.isAllocated(index)) continue;
    const data = await chain.readBlock(index);
    const checksum = check.fullBlockChecksum(index, rule) ?? foldedTerm(rule, bitmap, data);
    digest.add(index, checksum);
    yield { kind: 'block', block: { index, bitmap, data, checksum, packed: false } };
  }
  yield { kind: 'trailer', trailer: { blockCount: digest.count, digest: digest.digest() } };
}

/** The header of a served disk: the request's ids, the file's size, block size and date. */
export function headerPart(request: ServeDiskRequest, file: VhdFile, footerUuid: string, parentFooterUuid: string | undefined, checksumRule: ChecksumRule): ServedPart {
  const header: DiskHeaderInput = {
    backupId: request.backupId,
    vmUuid: request.vmUuid,
    diskKey: request.diskKey,
    virtualSize: file.currentSize,
    blockSize: file.blockSize,
    footerUuid,
    parentFooterUuid,
    timestampMs: VHD_EPOCH_MS + file.footer.timestamp * 1000,
    checksumRule,
  };
  return { kind: 'header', header };
}

/**
 * The chain as one VHD stream, as GetDisk sends it: each block comes as one chunk in an aligned
 * buffer of `buffers` (with `blockRoom` bytes free before it), which the caller gives back once
 * sent (`buffers.give(buffers.holder(chunk))`); `readAhead` blocks are read ahead of the one being
 * sent, and the buffers kept cover those, the one being sent and the ones before it still in the
 * transport's window. With `pool` the buffers come from it and go back to it once the caller
 * closes `buffers` (after the stream) and gives back what it still held.
 */
export function serveVhd(chain: ChainReader, o: { readAhead: number; blockRoom: number; pool?: AlignedBufferPool }): { length: number; chunks: AsyncGenerator<Buffer>; buffers: ReusedBuffers } {
  const pool = o.pool;
  const buffers = pool === undefined ? new ReusedBuffers(o.readAhead + BLOCKS_IN_TRANSIT, alignedBuffer) : new ReusedBuffers(o.readAhead + BLOCKS_IN_TRANSIT, (size) => pool.take(size), (buffer) => pool.give(buffer));
  const { length, chunks } = syntheticVhdChunks(chain, { blockBuffers: buffers, readAhead: o.readAhead, blockRoom: o.blockRoom });
  return { length, chunks, buffers };
}
