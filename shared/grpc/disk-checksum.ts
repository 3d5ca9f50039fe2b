// Part of the data-plane contract (proto/deltachain/storage/v1/disk.proto): both ends compute these.
// Block checksums and the disk digest (docs/remote-format.md §6).
//   block checksum = SHA-256(bitmap ‖ the data of the sectors the bitmap marks, in order)
//                    (= SHA-256(bitmap ‖ data) when every sector is marked)
//   disk digest    = SHA-256(for each block, ascending index: uint32be(index) ‖ block checksum)
// Hashing only the marked sectors is what makes a sparse delta cheap: a 2 MiB block holding one
// changed 64 KiB extent costs 64 KiB of hashing at each end, not 2 MiB. The bitmap is hashed too,
// and the unmarked sectors are zeros by definition (§7), so the checksum still fixes the whole
// stored block.
//
// The piece rules: the same, with each 64 KiB piece of the block hashed on its own first —
//   piece hash     P_k = H(the data of the sectors of piece k the bitmap marks, in order)
//   block checksum     = SHA-256(bitmap ‖ P_0 ‖ … ‖ P_n-1), n = block size / 64 KiB
// with H = SHA-256 (`pieces`, remote format 5) or BLAKE3-256 (`blake3`, remote format 6, what
// writers use now: 4.7–4.9 GiB/s per core on this machine against SHA-256's 1.6 with the SHA
// extensions, and as collision-resistant, which the catalogue's digests need —
// docs/performance-notes.md). The piece hashes are nearly all the bytes hashed; the outer SHA-256
// takes 1 KiB per 2 MiB block. What pieces buy: a commit composes the chain digest's term of a
// block a delta changed in whole 64 KiB pieces (CBT's granularity) from the delta's piece hashes
// and the parent date's, without reading or hashing the parent's data (chain-digest.ts). The rule
// a checksum follows is recorded with it (`.sums` flags PIECES and BLAKE3, the DiskHeader's
// checksum_rule, a backup's chainDigestRule).
import { createHash, type Hash } from 'node:crypto';
import { blake3, Blake3Hasher } from '@napi-rs/blake-hash';
import { forEachMarkedRun, SECTOR_BYTES } from './packed-block.js';

export const CHECKSUM_SIZE = 32;

/** How a block checksum is taken: over the marked data (`whole`, before remote format 5) or over its 64 KiB pieces' hashes (SHA-256 or BLAKE3). */
export type ChecksumRule = 'whole' | PieceRule;

/** A rule of piece hashes: SHA-256 pieces (`pieces`, remote format 5) or BLAKE3 pieces (`blake3`, remote format 6). */
export type PieceRule = 'pieces' | 'blake3';

/** The rule writers use for every block they checksum, send and store. */
export const WRITE_RULE: PieceRule = 'blake3';

export function isPieceRule(rule: ChecksumRule): rule is PieceRule {
  return rule !== 'whole';
}

/** Bytes of a piece; a block smaller than this is one piece. */
export const PIECE_BYTES = 64 * 1024;

/** One piece's hash, fed in parts (the piece's marked runs, or packed data in parts). */
export interface PieceHash {
  update(data: Uint8Array): unknown;
  digest(): Buffer;
}

class Blake3Piece implements PieceHash {
  readonly #hasher = new Blake3Hasher();
  update(data: Uint8Array): void {
    this.#hasher.update(data);
  }
  digest(): Buffer {
    return this.#hasher.digestBuffer();
  }
}

/** A hash of one piece by `rule`, fed in parts. */
export function newPieceHash(rule: PieceRule): PieceHash {
  return rule === 'blake3' ? new Blake3Piece() : createHash('sha256');
}

/** H of one contiguous piece: BLAKE3's one-call form is about twice as fast as its hasher's. */
export function hashOfPiece(rule: PieceRule, data: Uint8Array): Buffer {
  return rule === 'blake3' ? blake3(data) : createHash('sha256').update(data).digest();
}

const EMPTY_HASH: Record<PieceRule, Buffer> = { pieces: createHash('sha256').digest(), blake3: blake3(Buffer.alloc(0)) };

/** Pieces in a block of `blockSize` bytes. */
export function pieceCount(blockSize: number): number {
  return blockSize / pieceBytes(blockSize);
}

export function pieceBytes(blockSize: number): number {
  return Math.min(blockSize, PIECE_BYTES);
}

/**
 * P_0 ‖ … ‖ P_n-1 (n × 32 bytes) by `rule` of a block of `blockSize` bytes: `data` is the whole
 * block, or with `packed` only its marked sectors in order. A piece the bitmap leaves unmarked
 * hashes the empty string.
 */
export function pieceHashes(rule: PieceRule, bitmap: Uint8Array, data: Uint8Array | readonly Uint8Array[], blockSize: number, packed = false): Buffer {
  const size = pieceBytes(blockSize);
  const count = blockSize / size;
  const out = Buffer.allocUnsafe(count * CHECKSUM_SIZE);
  if (!(data instanceof Uint8Array) && !packed) throw new RangeError('a whole block is one buffer; only packed data comes in parts');
  if (!packed && data instanceof Uint8Array && isFull(bitmap, blockSize)) {
    for (let k = 0; k < count; k++) hashOfPiece(rule, data.subarray(k * size, (k + 1) * size)).copy(out, k * CHECKSUM_SIZE);
    return out;
  }
  // Packed data is read in order (one buffer, or parts such as NBD replies, never joined); a
  // whole block's marked sectors are taken where they lie.
  const parts = data instanceof Uint8Array ? [data] : data;
  let part = 0;
  let within = 0;
  const feed = (hash: PieceHash, sector: number, length: number): void => {
    if (!packed) {
      hash.update((data as Uint8Array).subarray(sector * SECTOR_BYTES, sector * SECTOR_BYTES + length));
      return;
    }
    while (length > 0) {
      const bytes = parts[part];
      if (bytes === undefined) throw new RangeError('packed data shorter than the sectors its bitmap marks');
      const n = Math.min(bytes.length - within, length);
      hash.update(bytes.subarray(within, within + n));
      within += n;
      length -= n;
      if (within === bytes.length) {
        part++;
        within = 0;
      }
    }
  };
  const sectorsPerPiece = size / SECTOR_BYTES;
  let open = -1;
  let hash: PieceHash | undefined;
  let done = 0;
  const empty = EMPTY_HASH[rule];
  const finishBelow = (piece: number): void => {
    for (; done < piece; done++) (done === open ? hash!.digest() : empty).copy(out, done * CHECKSUM_SIZE);
  };
  forEachMarkedRun(bitmap, blockSize, (first, end) => {
    for (let sector = first; sector < end; ) {
      const piece = Math.floor(sector / sectorsPerPiece);
      const stop = Math.min(end, (piece + 1) * sectorsPerPiece);
      if (piece !== open) {
        finishBelow(piece);
        open = piece;
        hash = newPieceHash(rule);
      }
      feed(hash!, sector, (stop - sector) * SECTOR_BYTES);
      sector = stop;
    }
  });
  finishBelow(count);
  return out;
}

/** SHA-256(bitmap ‖ piece hashes): the piece rule's block checksum. */
export function piecesChecksum(bitmap: Uint8Array, pieces: Uint8Array): Buffer {
  return createHash('sha256').update(bitmap).update(pieces).digest();
}

/** A block's checksum by `rule`; `data` as for markedChecksum (packed data may come in parts). */
export function ruleChecksum(rule: ChecksumRule, bitmap: Uint8Array, data: Uint8Array | readonly Uint8Array[], blockSize: number, packed = false): Buffer {
  if (isPieceRule(rule)) return piecesChecksum(bitmap, pieceHashes(rule, bitmap, data, blockSize, packed));
  if (data instanceof Uint8Array) return markedChecksum(bitmap, data, blockSize, packed);
  if (!packed) throw new RangeError('a whole block is one buffer; only packed data comes in parts');
  const hash = createHash('sha256').update(bitmap);
  for (const part of data) hash.update(part);
  return hash.digest();
}

/** The chain digest's term of a folded block (every sector present) by `rule`. */
export function foldedTerm(rule: ChecksumRule, fullBitmap: Uint8Array, data: Uint8Array): Buffer {
  return isPieceRule(rule) ? piecesChecksum(fullBitmap, pieceHashes(rule, fullBitmap, data, data.length)) : blockChecksum(fullBitmap, data);
}

/** P_k by `rule` of a piece of zeros of a block of `blockSize` bytes: a folded piece no file of the chain marks. */
export function zeroPieceHash(rule: PieceRule, blockSize: number): Buffer {
  const size = pieceBytes(blockSize);
  const key = `${rule}:${size}`;
  let hash = zeroPieceHashes.get(key);
  if (hash === undefined) zeroPieceHashes.set(key, (hash = hashOfPiece(rule, Buffer.alloc(size))));
  return hash;
}
const zeroPieceHashes = new Map<string, Buffer>();

function isFull(bitmap: Uint8Array, blockSize: number): boolean {
  const bytes = blockSize / SECTOR_BYTES / 8;
  for (let i = 0; i < bytes; i++) if (bitmap[i] !== 0xff) return false;
  return true;
}

/** SHA-256(bitmap ‖ data) over the whole block: the checksum of a block whose bitmap marks every sector, and of a folded block. */
export function blockChecksum(bitmap: Uint8Array, data: Uint8Array): Buffer {
  return createHash('sha256').update(bitmap).update(data).digest();
}

/**
 * SHA-256(bitmap ‖ the marked sectors' data, in order) of a block of `blockSize` bytes: `data`
 * is the whole block, or with `packed` only its marked sectors (then it is hashed as it is).
 * The block checksum of every block sent or stored (a full bitmap gives blockChecksum's value);
 * `bitmap` is the block's whole bitmap — an empty "all present" one is the caller's to replace.
 */
export function markedChecksum(bitmap: Uint8Array, data: Uint8Array, blockSize: number, packed = false): Buffer {
  const hash = createHash('sha256').update(bitmap);
  if (packed) return hash.update(data).digest();
  forEachMarkedRun(bitmap, blockSize, (first, end) => hash.update(data.subarray(first * SECTOR_BYTES, end * SECTOR_BYTES)));
  return hash.digest();
}

/** A stored block's checksum by the writers' rule and what its `.sums` entry records about it (§6): FULL when every bitmap byte is 0xff, else MARKED; its piece rule. */
export function storedBlockChecksum(bitmap: Uint8Array, data: Uint8Array): { checksum: Buffer; fullBitmap: boolean; marked: boolean; pieces: PieceRule } {
  const full = bitmap.every((byte) => byte === 0xff);
  return { checksum: piecesChecksum(bitmap, pieceHashes(WRITE_RULE, bitmap, data, data.length)), fullBitmap: full, marked: !full, pieces: WRITE_RULE };
}

/** Accumulates the disk digest; blocks must be added in strictly ascending index order. */
export class DiskDigest {
  #hash: Hash = createHash('sha256');
  #last = -1;
  #count = 0;
  readonly #index = Buffer.alloc(4);

  add(index: number, checksum: Uint8Array): void {
    if (index <= this.#last) throw new RangeError(`block ${index} after block ${this.#last}: indexes must ascend`);
    this.#last = index;
    this.#count++;
    this.#index.writeUInt32BE(index, 0);
    this.#hash.update(this.#index).update(checksum);
  }

  get count(): number {
    return this.#count;
  }

  digest(): Buffer {
    return this.#hash.digest();
  }
}

export function digestHex(digest: Uint8Array): string {
  return `sha256:${Buffer.from(digest).toString('hex')}`;
}
