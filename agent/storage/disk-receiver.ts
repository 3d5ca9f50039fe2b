// Receives one disk (docs/remote-format.md §7): validates the header before anything is
// created, checks every block (index in range and ascending, lengths, SHA-256), appends it to a
// temporary VHD through VhdWriter, and on a trailer whose block count and digest match writes the
// `.sums` file and links the VHD into place — never over an existing file (link(2), exclusive
// create; docs/remote-format.md §7). Any failure removes the temporary: a refused or
// interrupted upload leaves nothing visible. The caller awaits `addBlock` before reading the next
// message, which is the backpressure; a bounded number of block writes overlap the checks of the
// next blocks.
// A delta's packed block (only its marked sectors, §7 "Packed blocks") is checked as it came and
// written run by run from the message (VhdWriter.writePackedBlock): its unmarked sectors are never
// written and stay holes, so the remote holds the changed extents only.
import { mkdir, rmdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { DiskType, LIMITS, VhdWriter, bitmapSize, blockCount, isPowerOfTwo } from '../../shared/vhd/index.js';
import { CHECKSUM_SIZE, DiskDigest, isPieceRule, markedChecksum, pieceHashes, piecesChecksum, type ChecksumRule } from '../../shared/grpc/disk-checksum.js';
import { FilePiecesWriter } from './chain-terms.js';
import { markedSectors, SECTOR_BYTES } from '../../shared/grpc/packed-block.js';
import { readBackupMetadata } from './backup-metadata.js';
import type { DiskIdentity } from './disk-identity.js';
import { StorageChecksumError, StorageConflictError, StorageNotFoundError, StorageRequestError } from './errors.js';
import { validBackupId, validDiskKey, validUuid } from './ids.js';
import { sumsPathOf } from './remote-layout.js';
import type { RemoteContext } from './remote-context.js';
import { isAllOnes } from '../../shared/sums/index.js';
import { createSumsFile, type SumsEntry } from './sums-file.js';
import { removeIfPresent } from '../../shared/files/atomic-write.js';
import { readDiskFolderOf } from './vm-folder.js';
import { checkFreeSpace } from './remote-full.js';
import { DEFAULT_UPLOAD_LIMITS } from './upload-limits.js';

/**
 * Block writes in flight per upload, and the bytes they hold (views of received messages). One
 * write at a time held a scattered CBT delta (2 036 blocks of ~250 KiB, each written as a few
 * dozen runs) to the latency of each block's writes: 3.4–3.7 s of its 4.6–4.9 s in addBlock;
 * with 16 writes or 8 MiB, 1.9–2.0 s, and the delta 0.3–0.5 s shorter.
 */
const MAX_PENDING_WRITES = 16;
const MAX_PENDING_WRITE_BYTES = 8 * 1024 * 1024;

/** The free-space floor is checked again every this many blocks of an upload. */
const SPACE_CHECK_BLOCKS = 64;

export interface DiskHeaderInput {
  backupId: string;
  vmUuid: string;
  diskKey: string;
  /** Bytes. */
  virtualSize: number;
  /** Bytes. */
  blockSize: number;
  footerUuid: string;
  /** Undefined or '' for a full. */
  parentFooterUuid: string | undefined;
  /** Milliseconds since the epoch; 0 = now. */
  timestampMs: number;
  /** The rule of every block checksum in the stream (§6). */
  checksumRule: ChecksumRule;
}

export interface BlockInput {
  index: number;
  /** Empty = every sector present (whole blocks only). */
  bitmap: Buffer;
  /** The whole block, or when `packed` only the sectors `bitmap` marks, in order. */
  data: Buffer;
  checksum: Buffer;
  packed: boolean;
}

export interface TrailerInput {
  blockCount: number;
  digest: Buffer;
}

export interface ReceivedDisk {
  path: string;
  fileSize: number;
  blockCount: number;
  digest: Buffer;
}

export class DiskReceiver {
  readonly header: DiskHeaderInput;
  readonly #ctx: RemoteContext;
  readonly #writer: VhdWriter;
  readonly #claim: { release: () => void };
  readonly #parentName: string | undefined;
  readonly #blockCount: number;
  readonly #bitmapSize: number;
  readonly #fullBitmap: Buffer;
  readonly #sums: SumsEntry[] = [];
  readonly #digest = new DiskDigest();
  /** Piece rule: the blocks' piece hashes, handed to the commit (chain-terms.ts); bounded. */
  readonly #pieces: FilePiecesWriter | undefined;
  #last = -1;
  #closed = false;
  /** Writes started and not yet awaited, oldest first, with the bytes each holds. */
  readonly #writes: Array<{ done: Promise<void>; bytes: number }> = [];
  #writeBytes = 0;
  /** Folders this upload created, deepest first: removed (when empty) if it is aborted. */
  readonly #createdFolders: string[];

  private constructor(ctx: RemoteContext, header: DiskHeaderInput, writer: VhdWriter, claim: { release: () => void }, parentName: string | undefined, createdFolders: string[]) {
    this.#ctx = ctx;
    this.#createdFolders = createdFolders;
    this.header = header;
    this.#writer = writer;
    this.#claim = claim;
    this.#parentName = parentName;
    this.#blockCount = blockCount(header.virtualSize, header.blockSize);
    this.#bitmapSize = bitmapSize(header.blockSize);
    this.#fullBitmap = Buffer.alloc(this.#bitmapSize, 0xff);
    const cache = ctx.chainTerms;
    // A quarter of the cache per upload, so that a few uploads at once stay bounded (64 MiB cache:
    // disks up to ~27 GiB); a larger disk's commit reads the blocks it changed instead.
    this.#pieces = isPieceRule(header.checksumRule) && cache !== undefined ? new FilePiecesWriter(header.blockSize, cache.maxBytes / 4) : undefined;
  }

  /** Validates the header and opens the temporary file. Throws before creating anything on a bad header. */
  static async start(ctx: RemoteContext, raw: DiskHeaderInput): Promise<DiskReceiver> {
    const header = validateHeader(raw);
    const floor = (ctx.limits ?? DEFAULT_UPLOAD_LIMITS).freeSpaceFloorBytes;
    await checkFreeSpace(ctx.remoteId, ctx.layout.root, floor, 0, `disk ${header.diskKey} of backup ${header.backupId}`);
    const claim = await ctx.uploads.claim(header.vmUuid, header.diskKey, header.backupId);
    let createdFolders: string[] = [];
    try {
      const parent = await checkTarget(ctx, header);
      const path = ctx.layout.diskPath(header.vmUuid, header.diskKey, header.backupId);
      createdFolders = foldersBetween(await mkdir(dirname(path), { recursive: true }), dirname(path));
      const writer = await VhdWriter.create({
        path,
        diskType: parent ? DiskType.Differencing : DiskType.Dynamic,
        currentSize: header.virtualSize,
        uuid: header.footerUuid,
        blockSize: header.blockSize,
        parent: parent ? { uuid: parent.footerUuid, timestamp: parent.timestamp, relativeName: `./${parent.name}` } : undefined,
        date: header.timestampMs > 0 ? new Date(header.timestampMs) : ctx.now(),
      });
      claim.setTemporary(writer.tempPath);
      return new DiskReceiver(ctx, header, writer, claim, parent?.name, createdFolders);
    } catch (error) {
      await removeEmptyFolders(createdFolders);
      claim.release();
      throw error;
    }
  }

  get blocksReceived(): number {
    return this.#digest.count;
  }

  /** Index of the last block received (-1: none): a resumed upload sends only blocks after it. */
  get lastIndex(): number {
    return this.#last;
  }

  /**
   * Readies a receiver whose stream broke to be resumed: waits for its writes. False (and aborted)
   * when one failed or it is already closed — then it cannot be resumed.
   */
  async settleForResume(): Promise<boolean> {
    if (this.#closed) return false;
    try {
      await this.#settleWrites();
      return true;
    } catch {
      await this.abort();
      return false;
    }
  }

  /**
   * Checks the block and starts writing it; resolves once the writes in flight are within
   * MAX_PENDING_WRITES and MAX_PENDING_WRITE_BYTES again (the oldest awaited first). A failed
   * write fails this call or a later one, or `finish`, which waits for all.
   */
  async addBlock(block: BlockInput): Promise<void> {
    try {
      const data = this.#checkBlock(block);
      if ((this.#digest.count + 1) % SPACE_CHECK_BLOCKS === 0) {
        const floor = (this.#ctx.limits ?? DEFAULT_UPLOAD_LIMITS).freeSpaceFloorBytes;
        await checkFreeSpace(this.#ctx.remoteId, this.#ctx.layout.root, floor, 0, this.#where());
      }
      const bitmap = block.bitmap.length === 0 ? undefined : block.bitmap;
      const write = block.packed ? this.#writer.writePackedBlock(block.index, block.bitmap, data) : this.#writer.writeBlock(block.index, data, bitmap);
      write.catch(() => undefined); // awaited below or by the next call; never unhandled
      // A copy: the checksum is a view into the received message; keeping the view would keep
      // the whole block's memory alive until the disk is finished.
      const fullBitmap = bitmap === undefined || isAllOnes(bitmap);
      const pieces = isPieceRule(this.header.checksumRule) ? { pieces: this.header.checksumRule } : {};
      this.#sums.push({ index: block.index, checksum: Buffer.from(block.checksum), fullBitmap, marked: !fullBitmap, ...pieces });
      this.#digest.add(block.index, block.checksum);
      this.#last = block.index;
      this.#writes.push({ done: write, bytes: data.length });
      this.#writeBytes += data.length;
      while (this.#writes.length > 1 && (this.#writes.length > MAX_PENDING_WRITES || this.#writeBytes > MAX_PENDING_WRITE_BYTES)) {
        const oldest = this.#writes.shift()!;
        this.#writeBytes -= oldest.bytes;
        await oldest.done;
      }
    } catch (error) {
      await this.abort();
      throw error;
    }
  }

  async finish(trailer: TrailerInput): Promise<ReceivedDisk> {
    try {
      await this.#settleWrites();
      const where = this.#where();
      if (trailer.blockCount !== this.#digest.count) {
        throw new StorageChecksumError(`${where}: trailer announces ${trailer.blockCount} blocks, ${this.#digest.count} were received`);
      }
      const digest = this.#digest.digest();
      if (!digest.equals(trailer.digest)) {
        throw new StorageChecksumError(`${where}: disk digest mismatch (received ${digest.toString('hex')}); send the disk again`);
      }
      const { vmUuid } = this.header;
      const result = await this.#ctx.locks.withVm(vmUuid, async () => {
        await checkTarget(this.#ctx, this.header, this.#parentName);
        // A `.sums` without its disk is a crash's leftover (nothing reads it): it makes way.
        await removeIfPresent(sumsPathOf(this.#writer.path));
        await createSumsFile(sumsPathOf(this.#writer.path), this.header.blockSize, this.#sums);
        try {
          return await this.#writer.finish();
        } catch (error) {
          await removeIfPresent(sumsPathOf(this.#writer.path));
          if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw alreadyReceived(where);
          throw error;
        }
      });
      this.#close();
      await this.#handOverPieces(result.path);
      return { path: result.path, fileSize: result.size, blockCount: result.blocks, digest };
    } catch (error) {
      await this.abort();
      throw error;
    }
  }

  /** Removes the temporary; safe to call more than once. */
  /** Waits for every write started; rejects with the first failure, once all are done. */
  async #settleWrites(): Promise<void> {
    const writes = this.#writes.splice(0);
    this.#writeBytes = 0;
    const results = await Promise.allSettled(writes.map((w) => w.done));
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }

  async abort(): Promise<void> {
    if (this.#closed) return;
    this.#close();
    await this.#settleWrites().catch(() => undefined);
    await this.#writer.abort();
    await removeEmptyFolders(this.#createdFolders);
  }

  /** Leaves the blocks' piece hashes for the commit; without them it reads the file instead. */
  async #handOverPieces(path: string): Promise<void> {
    const pieces = this.#pieces?.finish();
    if (pieces === undefined || this.#ctx.chainTerms === undefined) return;
    const file = await stat(path).catch(() => undefined);
    if (file !== undefined) this.#ctx.chainTerms.setFilePieces(path, file, pieces);
  }

  #close(): void {
    this.#closed = true;
    this.#claim.release();
  }

  #where(): string {
    const h = this.header;
    return `disk ${h.diskKey} of backup ${h.backupId} (VM ${h.vmUuid})`;
  }

  /** Checks the block's fields and checksum; returns its data (whole, or packed as it came). */
  #checkBlock(block: BlockInput): Buffer {
    const where = `${this.#where()} block ${block.index}`;
    if (this.#closed) throw new StorageRequestError(`${where}: the upload is already finished or aborted`);
    if (!Number.isInteger(block.index) || block.index < 0 || block.index >= this.#blockCount) {
      throw new StorageRequestError(`${where}: index out of range 0..${this.#blockCount - 1}`);
    }
    if (block.index <= this.#last) throw new StorageRequestError(`${where}: indexes must strictly ascend (previous ${this.#last})`);
    if (block.checksum.length !== CHECKSUM_SIZE) throw new StorageRequestError(`${where}: checksum must be ${CHECKSUM_SIZE} bytes`);
    if (block.packed) this.#checkPacked(block, where);
    else this.#checkWhole(block, where);
    // The checksum covers the bitmap and the marked sectors (§6): checked on the data as it came.
    const bitmap = block.bitmap.length === 0 ? this.#fullBitmap : block.bitmap;
    let actual: Buffer;
    if (isPieceRule(this.header.checksumRule)) {
      const hashes = pieceHashes(this.header.checksumRule, bitmap, block.data, this.header.blockSize, block.packed);
      actual = piecesChecksum(bitmap, hashes);
      if (actual.equals(block.checksum)) this.#pieces?.add(block.index, bitmap, hashes);
    } else actual = markedChecksum(bitmap, block.data, this.header.blockSize, block.packed);
    if (!actual.equals(block.checksum)) throw new StorageChecksumError(`${where}: checksum mismatch; the block was damaged in transit`);
    return block.data;
  }

  #checkWhole(block: BlockInput, where: string): void {
    if (block.data.length !== this.header.blockSize) {
      throw new StorageRequestError(`${where}: ${block.data.length} data bytes, expected ${this.header.blockSize}`);
    }
    if (block.bitmap.length !== 0 && block.bitmap.length !== this.#bitmapSize) {
      throw new StorageRequestError(`${where}: ${block.bitmap.length} bitmap bytes, expected ${this.#bitmapSize} (or none)`);
    }
  }

  /** Lengths are checked before anything is copied: data at most a block, bitmap exactly its size. */
  #checkPacked(block: BlockInput, where: string): void {
    const { blockSize } = this.header;
    if (this.header.parentFooterUuid === undefined) {
      throw new StorageRequestError(`${where}: a packed block in a full; a full's blocks are whole (packed blocks are for deltas)`);
    }
    if (block.bitmap.length !== this.#bitmapSize) {
      throw new StorageRequestError(`${where}: a packed block needs its ${this.#bitmapSize}-byte bitmap, got ${block.bitmap.length} bytes`);
    }
    if (block.data.length > blockSize) throw new StorageRequestError(`${where}: ${block.data.length} packed data bytes, more than a block (${blockSize})`);
    const sectors = markedSectors(block.bitmap, blockSize);
    if (sectors === 0) throw new StorageRequestError(`${where}: a packed block whose bitmap marks no sector; send nothing for an unchanged block`);
    if (block.data.length !== sectors * SECTOR_BYTES) {
      throw new StorageRequestError(`${where}: ${block.data.length} packed data bytes, expected ${sectors * SECTOR_BYTES} for the ${sectors} sectors the bitmap marks`);
    }
  }
}

/** `first` (what `mkdir -p` created first) and its descendants down to `last`, deepest first. */
function foldersBetween(first: string | undefined, last: string): string[] {
  if (first === undefined) return [];
  const out: string[] = [];
  for (let at = last; at.length >= first.length; at = dirname(at)) {
    out.push(at);
    if (at === first || dirname(at) === at) break;
  }
  return out;
}

/** Removes each folder that is empty (another upload may have put files in one since). */
async function removeEmptyFolders(folders: string[]): Promise<void> {
  for (const folder of folders) {
    try {
      await rmdir(folder);
    } catch {
      return;
    }
  }
}

export function validateHeader(h: DiskHeaderInput): DiskHeaderInput {
  validBackupId(h.backupId);
  validUuid(h.vmUuid, 'VM uuid');
  validDiskKey(h.diskKey);
  validUuid(h.footerUuid, 'footer uuid');
  const parent = h.parentFooterUuid === '' ? undefined : h.parentFooterUuid;
  if (parent !== undefined) {
    validUuid(parent, 'parent footer uuid');
    if (parent === h.footerUuid) throw new StorageRequestError(`parent footer uuid ${parent} equals the disk's own footer uuid`);
  }
  if (!Number.isSafeInteger(h.virtualSize) || h.virtualSize <= 0 || h.virtualSize % 512 !== 0 || h.virtualSize > LIMITS.maxVirtualSize) {
    throw new StorageRequestError(`virtual size ${h.virtualSize} must be a positive multiple of 512 up to ${LIMITS.maxVirtualSize} bytes`);
  }
  if (!isPowerOfTwo(h.blockSize) || h.blockSize < LIMITS.minBlockSize || h.blockSize > LIMITS.maxBlockSize) {
    throw new StorageRequestError(`block size ${h.blockSize} must be a power of two from ${LIMITS.minBlockSize} to ${LIMITS.maxBlockSize} bytes`);
  }
  // The writer holds a BAT of one entry per block: bounded before anything is allocated.
  const entries = blockCount(h.virtualSize, h.blockSize);
  if (entries > LIMITS.maxBatEntries) {
    throw new StorageRequestError(`virtual size ${h.virtualSize} in blocks of ${h.blockSize} bytes needs ${entries} BAT entries, past the limit of ${LIMITS.maxBatEntries}; send larger blocks`);
  }
  if (!Number.isSafeInteger(h.timestampMs) || h.timestampMs < 0) throw new StorageRequestError(`timestamp ${h.timestampMs} is not valid`);
  if (h.checksumRule !== 'whole' && h.checksumRule !== 'pieces' && h.checksumRule !== 'blake3') {
    throw new StorageRequestError(`checksum rule ${String(h.checksumRule)} is not one this storage agent knows (whole, pieces, blake3); upgrade it`);
  }
  return { ...h, parentFooterUuid: parent };
}

function alreadyReceived(where: string): StorageConflictError {
  return new StorageConflictError(
    `${where}: this disk of this backup id was already received; a received disk is never replaced — discard the backup (DiscardBackup) if it is not committed, or use a new backup id`,
  );
}

/**
 * The backup must not be committed; its disk must not have been received already (a final file is
 * never replaced); no file may name it as its parent, by name or by footer uuid (a deleted disk's
 * id or uuid under a surviving child is never filled again: the child would restore other data);
 * the footer uuid must not be taken by another file; and a named parent must exist, be committed (or needed by a committed backup), be its chain's
 * newest committed disk and have the same block size. Returns the parent's identity.
 */
async function checkTarget(ctx: RemoteContext, h: DiskHeaderInput, expectedParentName?: string): Promise<DiskIdentity | undefined> {
  const where = `disk ${h.diskKey} of backup ${h.backupId} (VM ${h.vmUuid})`;
  if (await readBackupMetadata(ctx.layout.metadataPath(h.vmUuid, h.backupId))) {
    throw new StorageConflictError(`${where}: backup ${h.backupId} is already committed; a committed backup never changes`);
  }
  const { folder } = await readDiskFolderOf(ctx.layout, h.vmUuid, h.diskKey);
  const ownName = `${h.backupId}.vhd`;
  if (folder.model.files.some((f) => f.name === ownName)) throw alreadyReceived(where);
  const orphan = folder.model.files.find((f) => f.parentName === ownName || f.parentUuid === h.footerUuid);
  if (orphan) {
    throw new StorageConflictError(
      `${where}: ${ctx.layout.relative(orphan.path)} names ${ownName} (footer uuid ${orphan.parentUuid}) as its parent; a missing parent is never filled by a new upload — back up under a new backup id`,
    );
  }
  const clash = folder.model.files.find((f) => f.footerUuid === h.footerUuid);
  if (clash) throw new StorageConflictError(`${where}: footer uuid ${h.footerUuid} is already used by ${ctx.layout.relative(clash.path)}`);
  if (h.parentFooterUuid === undefined) return undefined;
  const parent = folder.model.files.find((f) => f.footerUuid === h.parentFooterUuid && folder.needed.has(f.name));
  if (!parent || (expectedParentName !== undefined && parent.name !== expectedParentName)) {
    throw new StorageNotFoundError(`${where}: parent footer uuid ${h.parentFooterUuid} is not a committed disk of disk key ${h.diskKey}; send a full instead`);
  }
  const child = (folder.model.children.get(parent.name) ?? []).find((c) => folder.needed.has(c.name) && c.name !== ownName);
  if (child) {
    throw new StorageConflictError(`${where}: parent ${parent.name} already has the committed child ${child.name}; a delta must extend the newest disk of its chain`);
  }
  if (parent.blockSize !== h.blockSize) {
    throw new StorageRequestError(`${where}: block size ${h.blockSize} differs from the parent's ${parent.blockSize}`);
  }
  return parent;
}
