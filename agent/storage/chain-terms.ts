// The folded block terms of a committed date's chain — per block index, the checksum of the block
// as the chain reads it with a full bitmap, the terms of its chain digest (docs/remote-format.md
// §6) — kept in memory by the storage agent for the newest dates it committed, so the next date's
// commit digests only the blocks its own file holds: every other block's term is the parent
// date's (a date's content never changes; merges keep it). Without this, a commit reads and
// hashes every partly marked block of the whole chain — after one sparse delta touching every
// 2 MiB block, each later commit would read the whole disk until a merge folds it.
//
// By the piece rule a date also keeps, per block where known, its folded 64 KiB piece hashes; and
// an upload hands the piece hashes it computed while checking its blocks (FilePieces) to the
// commit of its file. The commit then composes the term of a block the delta changed in whole
// pieces from the delta's pieces and the parent date's, reading no data (chain-digest.ts).
//
// A cache: a miss (agent restarted, entry evicted, the parent file replaced) computes the digest
// from the chain as before. An entry names its file by path and by inode, size and mtime, so a
// file discarded and uploaded again under the same name is never taken for the one cached.
// Memory: 36 bytes per block, and with pieces ~1.1 KiB per 2 MiB block (4 GiB disk: 2.2 MiB;
// 64 GiB: 35 MiB), at most `maxBytes` in all; a date larger than half of it is not kept.
import type { Stats } from 'node:fs';
import { CHECKSUM_SIZE, isPieceRule, pieceCount, pieceBytes, type ChecksumRule } from '../../shared/grpc/disk-checksum.js';
import { forEachMarkedRun } from '../../shared/grpc/packed-block.js';

export const TERM_BYTES = 36;

/** What a Map entry costs beyond its buffer, roughly (key, value slot, buffer object). */
const ENTRY_OVERHEAD = 96;

export interface ChainTerms {
  /** Entries of index (uint32 BE) and term (32 bytes), ascending by index. */
  terms: Buffer;
  /** The rule of the terms; a parent's terms are used only for a digest by the same rule. */
  rule: ChecksumRule;
  /** Piece rule: per block index that has a term, its folded piece hashes, or null where not known. */
  pieces?: Map<number, Buffer | null>;
}

/** Per piece of a block, how its file's bitmap marks it. */
export const PIECE_UNMARKED = 0;
export const PIECE_PARTIAL = 1;
export const PIECE_MARKED = 2;

/** The piece hashes of one received file's blocks (P_k of its marked sectors), and how each piece is marked. */
export interface FilePieces {
  blocks: Map<number, { states: Uint8Array; hashes: Buffer }>;
}

interface Entry {
  identity: string;
  bytes: number;
  value: ChainTerms | FilePieces;
}

export class ChainTermCache {
  readonly #entries = new Map<string, Entry>();
  #bytes = 0;

  constructor(readonly maxBytes = 64 * 1024 * 1024) {}

  get(path: string, file: Stats): ChainTerms | undefined {
    const value = this.#get(`terms:${path}`, file);
    return value as ChainTerms | undefined;
  }

  /** A date whose pieces would take more than half the bound is kept without them (its terms still serve). */
  set(path: string, file: Stats, terms: ChainTerms): void {
    const bytes = termsBytes(terms);
    if (bytes > this.maxBytes / 2 && terms.pieces !== undefined) this.#set(`terms:${path}`, file, { terms: terms.terms, rule: terms.rule }, terms.terms.length);
    else this.#set(`terms:${path}`, file, terms, bytes);
  }

  /** Hands an uploaded file's piece hashes to its commit (`takeFilePieces`). */
  setFilePieces(path: string, file: Stats, pieces: FilePieces): void {
    this.#set(`file:${path}`, file, pieces, filePiecesBytes(pieces));
  }

  /** The piece hashes its upload left for this file, removed from the cache. */
  takeFilePieces(path: string, file: Stats): FilePieces | undefined {
    const value = this.#get(`file:${path}`, file) as FilePieces | undefined;
    this.#delete(`file:${path}`);
    return value;
  }

  #get(key: string, file: Stats): ChainTerms | FilePieces | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined || entry.identity !== identityOf(file)) return undefined;
    // Most recently used last.
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry.value;
  }

  #set(key: string, file: Stats, value: ChainTerms | FilePieces, bytes: number): void {
    this.#delete(key);
    if (bytes > this.maxBytes / 2) return;
    this.#entries.set(key, { identity: identityOf(file), bytes, value });
    this.#bytes += bytes;
    for (const [oldest, entry] of this.#entries) {
      if (this.#bytes <= this.maxBytes) break;
      this.#entries.delete(oldest);
      this.#bytes -= entry.bytes;
    }
  }

  #delete(key: string): void {
    const entry = this.#entries.get(key);
    if (entry === undefined) return;
    this.#entries.delete(key);
    this.#bytes -= entry.bytes;
  }
}

function identityOf(file: Stats): string {
  return `${file.dev}:${file.ino}:${file.size}:${file.mtimeMs}`;
}

function termsBytes(terms: ChainTerms): number {
  let bytes = terms.terms.length;
  for (const pieces of terms.pieces?.values() ?? []) bytes += ENTRY_OVERHEAD + (pieces?.length ?? 0);
  return bytes;
}

function filePiecesBytes(pieces: FilePieces): number {
  let bytes = 0;
  for (const block of pieces.blocks.values()) bytes += 2 * ENTRY_OVERHEAD + block.states.length + block.hashes.length;
  return bytes;
}

/** Collects terms (and by the piece rule, folded piece hashes where known) in ascending index order. */
export class TermWriter {
  #buffer = Buffer.alloc(64 * TERM_BYTES);
  #length = 0;
  readonly #pieces: Map<number, Buffer | null> | undefined;

  constructor(readonly rule: ChecksumRule = 'whole') {
    this.#pieces = isPieceRule(rule) ? new Map() : undefined;
  }

  add(index: number, term: Uint8Array, pieces?: Buffer | null): void {
    if (this.#length + TERM_BYTES > this.#buffer.length) {
      const grown = Buffer.alloc(this.#buffer.length * 2);
      this.#buffer.copy(grown, 0, 0, this.#length);
      this.#buffer = grown;
    }
    this.#buffer.writeUInt32BE(index, this.#length);
    this.#buffer.set(term, this.#length + 4);
    this.#length += TERM_BYTES;
    this.#pieces?.set(index, pieces ?? null);
  }

  /** Exactly the terms added (a copy), with their rule and pieces. */
  finish(): ChainTerms {
    const terms = Buffer.from(this.#buffer.subarray(0, this.#length));
    return this.#pieces === undefined ? { terms, rule: this.rule } : { terms, rule: this.rule, pieces: this.#pieces };
  }
}

/**
 * Collects an upload's piece hashes, block by block, up to `maxBytes` (then none: the commit reads
 * what it needs instead).
 */
export class FilePiecesWriter {
  readonly #blocks = new Map<number, { states: Uint8Array; hashes: Buffer }>();
  readonly #sectorsPerPiece: number;
  readonly #count: number;
  #bytes = 0;
  #overflowed = false;

  constructor(
    readonly blockSize: number,
    readonly maxBytes: number,
  ) {
    this.#sectorsPerPiece = pieceBytes(blockSize) / 512;
    this.#count = pieceCount(blockSize);
  }

  /** `bitmap` the block's stored bitmap, `hashes` its piece hashes (pieceHashes; kept, not copied). */
  add(index: number, bitmap: Uint8Array, hashes: Buffer): void {
    if (this.#overflowed) return;
    this.#bytes += 2 * ENTRY_OVERHEAD + this.#count * (1 + CHECKSUM_SIZE);
    if (this.#bytes > this.maxBytes) {
      this.#overflowed = true;
      this.#blocks.clear();
      return;
    }
    this.#blocks.set(index, { states: pieceStates(bitmap, this.blockSize, this.#sectorsPerPiece, this.#count), hashes });
  }

  finish(): FilePieces | undefined {
    return this.#overflowed ? undefined : { blocks: this.#blocks };
  }
}

/** Per piece: PIECE_MARKED when the bitmap marks every sector of it, PIECE_UNMARKED when none, else PIECE_PARTIAL. */
export function pieceStates(bitmap: Uint8Array, blockSize: number, sectorsPerPiece = pieceBytes(blockSize) / 512, count = pieceCount(blockSize)): Uint8Array {
  const marked = new Uint32Array(count);
  forEachMarkedRun(bitmap, blockSize, (first, end) => {
    for (let sector = first; sector < end; ) {
      const piece = Math.floor(sector / sectorsPerPiece);
      const stop = Math.min(end, (piece + 1) * sectorsPerPiece);
      marked[piece]! += stop - sector;
      sector = stop;
    }
  });
  const states = new Uint8Array(count);
  for (let k = 0; k < count; k++) states[k] = marked[k] === 0 ? PIECE_UNMARKED : marked[k] === sectorsPerPiece ? PIECE_MARKED : PIECE_PARTIAL;
  return states;
}
