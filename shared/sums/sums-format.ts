// The `.sums` file: the block checksums of one VHD file (docs/remote-format.md §6). Shared by the
// storage agent, which writes and checks them, and `deltachain vhd check`, which reads them.
//
//   0 magic "DCSUMS\r\n" · 8 version u32 · 12 block size u32 · 16 entry count u32 · 20 reserved[12]
//   32 entries, strictly ascending by index:
//        version 1: index u32, sha256[32]                (36 bytes)
//        version 2: index u32, sha256[32], flags u32     (40 bytes)
//   then SHA-256 of every preceding byte of the file.
//
// Flags say what the stored sector bitmap of the block is, so that the digest of a folded chain
// can be taken from checksums without reading bitmaps: bit 0 (FULL) = every byte of the stored
// bitmap is 0xff, so the block checksum is also the checksum of the block with a full bitmap;
// bit 1 (UNKNOWN) = not known (the entry was carried over from a version 1 file by a merge);
// bit 2 (MARKED) = the bitmap leaves some sector unmarked and the checksum covers the bitmap and
// the marked sectors only (what writers of remote format 4 record for such a block).
// No bit: the bitmap leaves some sector unmarked and the checksum covers the whole block (written
// before remote format 4). At most one of those bits, plus bit 3 (PIECES) with FULL or MARKED: the
// checksum follows a piece rule (disk-checksum.ts; remote format 5), and with PIECES bit 4 (BLAKE3):
// its pieces are hashed with BLAKE3 (remote format 6). Other bits are reserved.
import { createHash } from 'node:crypto';
import { DeltachainError } from '../errors.js';
import { CHECKSUM_SIZE, blockChecksum, markedChecksum, pieceHashes, piecesChecksum, type PieceRule } from '../grpc/disk-checksum.js';

export const SUMS_MAGIC = Buffer.from('DCSUMS\r\n', 'latin1');
/** The version writers produce; readers also accept 1. */
export const SUMS_VERSION = 2;
export const SUMS_HEADER_SIZE = 32;
export const SUMS_FLAG_FULL = 1;
export const SUMS_FLAG_UNKNOWN = 2;
export const SUMS_FLAG_MARKED = 4;
export const SUMS_FLAG_PIECES = 8;
export const SUMS_FLAG_BLAKE3 = 16;
const PIECE_FLAGS = [SUMS_FLAG_FULL | SUMS_FLAG_PIECES, SUMS_FLAG_MARKED | SUMS_FLAG_PIECES];
const VALID_FLAGS = new Set([0, SUMS_FLAG_FULL, SUMS_FLAG_UNKNOWN, SUMS_FLAG_MARKED, ...PIECE_FLAGS, ...PIECE_FLAGS.map((f) => f | SUMS_FLAG_BLAKE3)]);

/** One block's entry. */
export interface SumsEntry {
  index: number;
  /** SHA-256(stored bitmap ‖ data), 32 bytes. */
  checksum: Buffer;
  /** True: the stored bitmap is all ones. False: it is not. Undefined: not known (version 1). */
  fullBitmap: boolean | undefined;
  /** The checksum covers the bitmap and the marked sectors only (MARKED); else the whole block. */
  marked?: boolean;
  /** The piece rule the checksum follows (PIECES, with BLAKE3 for `blake3`; with a known bitmap, FULL or MARKED); undefined: none. */
  pieces?: PieceRule;
}

export interface SumsHeader {
  version: number;
  /** Bytes. */
  blockSize: number;
  count: number;
}

/** A whole `.sums` file decoded; entries ascend by index. */
export interface BlockSums {
  blockSize: number;
  entries: SumsEntry[];
}

/** A `.sums` file is not as the format says; `where` (its path) starts the message. */
export class SumsFormatError extends DeltachainError {
  override name = 'SumsFormatError';
  constructor(
    readonly where: string,
    readonly reason: string,
  ) {
    super('SUMS_FORMAT_INVALID', `checksum file ${where}: ${reason}`);
  }
}

export function sumsEntrySize(version: number): number {
  return version === 1 ? 4 + CHECKSUM_SIZE : 4 + CHECKSUM_SIZE + 4;
}

/** The expected byte length of a file with this header. */
export function sumsFileSize(header: SumsHeader): number {
  return SUMS_HEADER_SIZE + header.count * sumsEntrySize(header.version) + CHECKSUM_SIZE;
}

/** Decodes and checks the 32-byte header against the file's length. */
export function decodeSumsHeader(head: Buffer, fileSize: number, where: string): SumsHeader {
  if (fileSize < SUMS_HEADER_SIZE + CHECKSUM_SIZE || head.length < SUMS_HEADER_SIZE || !head.subarray(0, 8).equals(SUMS_MAGIC)) {
    throw new SumsFormatError(where, 'not a .sums file (bad magic or too short)');
  }
  const version = head.readUInt32BE(8);
  if (version !== 1 && version !== SUMS_VERSION) throw new SumsFormatError(where, `version ${version} is not supported (1 or ${SUMS_VERSION})`);
  const header = { version, blockSize: head.readUInt32BE(12), count: head.readUInt32BE(16) };
  const want = sumsFileSize(header);
  if (fileSize !== want) throw new SumsFormatError(where, `${fileSize} bytes, expected ${want} for ${header.count} entries`);
  return header;
}

/** The entry at byte `at` of `buf` (a copy of the checksum when `copy`, else a view). */
export function decodeSumsEntry(buf: Buffer, at: number, version: number, where: string, copy = false): SumsEntry {
  const index = buf.readUInt32BE(at);
  const view = buf.subarray(at + 4, at + 4 + CHECKSUM_SIZE);
  const checksum = copy ? Buffer.from(view) : view;
  if (version === 1) return { index, checksum, fullBitmap: undefined };
  const flags = buf.readUInt32BE(at + 4 + CHECKSUM_SIZE);
  if (!VALID_FLAGS.has(flags)) {
    throw new SumsFormatError(where, `entry for block ${index} has flags ${flags}, which this version does not know`);
  }
  if (flags & SUMS_FLAG_PIECES) {
    const pieces: PieceRule = flags & SUMS_FLAG_BLAKE3 ? 'blake3' : 'pieces';
    return flags & SUMS_FLAG_FULL ? { index, checksum, fullBitmap: true, pieces } : { index, checksum, fullBitmap: false, marked: true, pieces };
  }
  if (flags === SUMS_FLAG_MARKED) return { index, checksum, fullBitmap: false, marked: true };
  return { index, checksum, fullBitmap: flags & SUMS_FLAG_UNKNOWN ? undefined : (flags & SUMS_FLAG_FULL) !== 0 };
}

function flagsOf(entry: SumsEntry): number {
  if (entry.pieces !== undefined) {
    if (entry.fullBitmap === undefined) throw new RangeError(`block ${entry.index}: a PIECES entry needs its bitmap known (FULL or MARKED)`);
    return SUMS_FLAG_PIECES | (entry.pieces === 'blake3' ? SUMS_FLAG_BLAKE3 : 0) | (entry.fullBitmap ? SUMS_FLAG_FULL : SUMS_FLAG_MARKED);
  }
  if (entry.marked === true) {
    if (entry.fullBitmap !== false) throw new RangeError(`block ${entry.index}: a MARKED entry is for a block whose bitmap is not all ones`);
    return SUMS_FLAG_MARKED;
  }
  if (entry.fullBitmap === undefined) return SUMS_FLAG_UNKNOWN;
  return entry.fullBitmap ? SUMS_FLAG_FULL : 0;
}

/** A version 2 file; `entries` must ascend strictly by index. */
export function encodeSums(blockSize: number, entries: readonly SumsEntry[]): Buffer {
  const size = sumsEntrySize(SUMS_VERSION);
  const out = Buffer.alloc(SUMS_HEADER_SIZE + entries.length * size + CHECKSUM_SIZE);
  SUMS_MAGIC.copy(out, 0);
  out.writeUInt32BE(SUMS_VERSION, 8);
  out.writeUInt32BE(blockSize, 12);
  out.writeUInt32BE(entries.length, 16);
  let at = SUMS_HEADER_SIZE;
  let last = -1;
  for (const entry of entries) {
    if (entry.index <= last) throw new RangeError(`checksum entries must ascend: block ${entry.index} after ${last}`);
    if (entry.checksum.length !== CHECKSUM_SIZE) throw new RangeError(`block ${entry.index}: checksum of ${entry.checksum.length} bytes`);
    last = entry.index;
    out.writeUInt32BE(entry.index, at);
    entry.checksum.copy(out, at + 4);
    out.writeUInt32BE(flagsOf(entry), at + 4 + CHECKSUM_SIZE);
    at += size;
  }
  createHash('sha256').update(out.subarray(0, at)).digest().copy(out, at);
  return out;
}

/** Decodes a whole file held in memory (version 1 or 2), checking the trailing hash and order. */
export function decodeSums(buf: Buffer, where: string): BlockSums {
  const header = decodeSumsHeader(buf, buf.length, where);
  const end = buf.length - CHECKSUM_SIZE;
  if (!createHash('sha256').update(buf.subarray(0, end)).digest().equals(buf.subarray(end))) {
    throw new SumsFormatError(where, 'trailing hash mismatch');
  }
  const size = sumsEntrySize(header.version);
  const entries: SumsEntry[] = [];
  for (let at = SUMS_HEADER_SIZE; at < end; at += size) {
    const entry = decodeSumsEntry(buf, at, header.version, where, true);
    const last = entries.at(-1);
    if (last && entry.index <= last.index) throw new SumsFormatError(where, `entry for block ${entry.index} after block ${last.index}: not ascending`);
    entries.push(entry);
  }
  return { blockSize: header.blockSize, entries };
}

/** True when every byte of `bitmap` is 0xff: what SUMS_FLAG_FULL records. */
export function isAllOnes(bitmap: Uint8Array): boolean {
  for (let i = 0; i < bitmap.length; i++) if (bitmap[i] !== 0xff) return false;
  return true;
}

/** The checksum of a stored block by the rule its entry records (PIECES: piece hashes of the marked sectors; MARKED: bitmap and marked sectors; else the whole block). */
export function entryRuleChecksum(entry: Pick<SumsEntry, 'marked' | 'pieces'>, bitmap: Uint8Array, data: Uint8Array): Buffer {
  if (entry.pieces !== undefined) return piecesChecksum(bitmap, pieceHashes(entry.pieces, bitmap, data, data.length));
  return entry.marked === true ? markedChecksum(bitmap, data, data.length) : blockChecksum(bitmap, data);
}
