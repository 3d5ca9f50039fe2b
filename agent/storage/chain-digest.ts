// The chain digest of a backup's disk (docs/remote-format.md §6): the digest of the disk as a
// restore produces it — DiskDigest over, for every block allocated anywhere in the chain,
// ascending, the checksum of the chain's folded data of that block with a full sector bitmap, by
// the digest's rule (`whole`: SHA-256(full bitmap ‖ data); `pieces` / `blake3`: SHA-256(full
// bitmap ‖ its 64 KiB pieces' SHA-256 / BLAKE3 hashes)). That is what GetDisk BLOCKS emits and what the synthetic VHD stream
// digests to.
//
// Taken from the checksum tables where they are exact: when the newest file holding a block
// stores it with an all-ones bitmap and its entry follows the digest's rule, its block checksum
// IS the folded block's term (flag FULL of `.sums` version 2; for a version 1 entry, the block's
// stored bitmap is read to know). Any other block is read folded through the checked chain and
// hashed. The tables are overlaid as streams (sums-overlay.ts), so memory does not grow with the
// disk. At a commit, when the parent date's terms are cached (chain-terms.ts), only the new
// file's blocks are looked at; by the piece rule, a block the new file marks in whole pieces is
// composed from its upload's piece hashes and the parent date's folded ones, without a read.
import { DiskDigest, foldedTerm, isPieceRule, pieceHashes, piecesChecksum, zeroPieceHash, CHECKSUM_SIZE, type ChecksumRule, type PieceRule } from '../../shared/grpc/disk-checksum.js';
import { PIECE_MARKED, PIECE_UNMARKED, TERM_BYTES, TermWriter, type ChainTerms, type FilePieces } from './chain-terms.js';
import { isAllOnes, type SumsEntry } from '../../shared/sums/index.js';
import { bitmapSize, type ChainReader } from '../../shared/vhd/index.js';
import { readFully } from '../../shared/vhd/vhd-file.js';
import { openCheckedChain, type ChainTarget } from './checked-chain.js';
import type { RemoteContext } from './remote-context.js';
import type { DamageReporter } from './sums-block-check.js';
import { overlaySums } from './sums-overlay.js';
import { forEachReadAhead } from './read-ahead.js';

export interface ChainDigestResult {
  digest: Buffer;
  /** Blocks in the digest. */
  blocks: number;
  /** Blocks whose folded data had to be read (the rest came from the tables or were composed). */
  blocksRead: number;
  /** True when the parent date's cached terms stood for every older file. */
  fromParentTerms?: boolean;
  /** Blocks whose term was composed from piece hashes (piece rule, at a commit). */
  blocksComposed?: number;
}

/**
 * Opens the chain of `target` checked (damage fails with StorageDataError) and digests it by
 * `rule` (default `whole`). With `cacheTerms` (a commit), the parent date's cached terms are used
 * when present and of the same rule, the new file's upload's piece hashes too, and this date's
 * terms are cached for the next commit.
 */
export async function computeChainDigest(ctx: RemoteContext, target: ChainTarget, options: { cacheTerms?: boolean; rule?: ChecksumRule } = {}): Promise<ChainDigestResult> {
  const rule = options.rule ?? 'whole';
  const { chain, readers, damage } = await openCheckedChain(ctx, target);
  const cache = options.cacheTerms === true ? ctx.chainTerms : undefined;
  try {
    const head = chain.disks[0]!;
    const headFile = cache === undefined ? undefined : await head.handle.stat();
    const own = cache !== undefined && isPieceRule(rule) ? cache.takeFilePieces(head.path, headFile!) : undefined;
    const terms = cache === undefined ? undefined : new TermWriter(rule);
    const parentDisk = chain.disks[1];
    const cached = cache !== undefined && parentDisk !== undefined ? cache.get(parentDisk.path, await parentDisk.handle.stat()) : undefined;
    const parent = cached?.rule === rule ? cached : undefined;
    const context: DigestContext = { chain, damage, rule, own, terms };
    const result = parent !== undefined ? await digestOnParent(context, readers[0]!.entries(), parent) : await digestChain(context, readers.map((r) => r.entries()));
    if (cache !== undefined) cache.set(head.path, headFile!, terms!.finish());
    return result;
  } finally {
    await chain.close();
  }
}

interface DigestContext {
  chain: ChainReader;
  damage: DamageReporter;
  rule: ChecksumRule;
  /** Piece rule, at a commit: the new file's (layer 0's) piece hashes from its upload. */
  own?: FilePieces | undefined;
  terms?: TermWriter | undefined;
}

/** A block's term and, by the piece rule, its folded piece hashes (null: not known). */
interface Term {
  term: Buffer;
  pieces: Buffer | null;
}

/** True when `entry` (the newest holding its block) gives the folded block's term by `rule` without a read. */
function exactByRule(entry: SumsEntry, rule: ChecksumRule): boolean | undefined {
  if ((entry.pieces ?? 'whole') !== rule) return false;
  return entry.fullBitmap;
}

/** The term of a block read folded, with its pieces by the piece rule. */
function termOfData(rule: ChecksumRule, full: Buffer, block: Buffer): Term {
  if (!isPieceRule(rule)) return { term: foldedTerm(rule, full, block), pieces: null };
  const pieces = pieceHashes(rule, full, block, block.length);
  return { term: piecesChecksum(full, pieces), pieces };
}

/**
 * The chain digest from the newest file's table and the parent date's terms: the newest file's
 * blocks as `digestChain` takes them (or composed from pieces), every other block's term as the
 * parent date had it.
 */
async function digestOnParent(context: DigestContext, newest: AsyncIterable<SumsEntry>, parent: ChainTerms): Promise<ChainDigestResult> {
  const { chain, damage, rule, own, terms } = context;
  const full = Buffer.alloc(bitmapSize(chain.blockSize), 0xff);
  const digest = new DiskDigest();
  const head = chain.disks[0]!;
  let blocksRead = 0;
  let blocksComposed = 0;
  let at = 0;
  const parentTerms = parent.terms;
  const add = (index: number, term: Uint8Array, pieces: Buffer | null): void => {
    digest.add(index, term);
    terms?.add(index, term, pieces);
  };
  const parentBelow = (end: number): void => {
    for (; at < parentTerms.length; at += TERM_BYTES) {
      const index = parentTerms.readUInt32BE(at);
      if (index >= end) return;
      if (index < chain.blockCount) add(index, parentTerms.subarray(at + 4, at + TERM_BYTES), parent.pieces?.get(index) ?? null);
    }
  };
  let next = 0;
  const noEntryBelow = async (end: number): Promise<void> => {
    for (; next < end; next++) if (head.hasBlock(next)) throw await damage(0, next, 'has no checksum stored at commit');
  };
  const inChain = async function* (): AsyncGenerator<SumsEntry> {
    for await (const entry of newest) if (entry.index < chain.blockCount) yield entry;
  };
  // Terms found without a read, by index, until used (the reads ahead run a few entries early).
  const known = new Map<number, Term>();
  // The block of an entry neither exact nor composable is read (folded through the chain) while earlier ones are hashed.
  const needsRead = async (entry: SumsEntry): Promise<number | undefined> => {
    await noEntryBelow(entry.index);
    next = entry.index + 1;
    if (!head.hasBlock(entry.index)) throw await damage(0, entry.index, 'is missing (its checksum file has an entry for it)');
    const found = isPieceRule(rule) ? composed(rule, entry, own, parent, chain.blockSize, full) : undefined;
    if (found !== undefined) {
      known.set(entry.index, found);
      blocksComposed++;
      return undefined;
    }
    const exact = exactByRule(entry, rule) ?? isAllOnes(await readBitmap(chain, 0, entry.index));
    if (!exact) return entry.index;
    known.set(entry.index, { term: entry.checksum, pieces: null });
    return undefined;
  };
  await forEachReadAhead(chain, inChain(), needsRead, (entry, block) => {
    parentBelow(entry.index);
    if (at < parentTerms.length && parentTerms.readUInt32BE(at) === entry.index) at += TERM_BYTES;
    let found: Term;
    if (block === undefined) {
      found = known.get(entry.index)!;
      known.delete(entry.index);
    } else {
      found = termOfData(rule, full, block);
      blocksRead++;
    }
    add(entry.index, found.term, found.pieces);
  });
  await noEntryBelow(chain.blockCount);
  parentBelow(Number.MAX_SAFE_INTEGER);
  return { digest: digest.digest(), blocks: digest.count, blocksRead, fromParentTerms: true, blocksComposed };
}

/**
 * Piece rules: the folded term of the new file's block `entry` from the upload's piece hashes of
 * it and the parent date's folded ones — a piece the new file marks whole is its own, a piece it
 * leaves unmarked is the parent's (zeros where no older file has the block). Undefined when a
 * piece is marked in part, or a hash needed is not known: the block is then read.
 */
function composed(rule: PieceRule, entry: SumsEntry, own: FilePieces | undefined, parent: ChainTerms, blockSize: number, full: Buffer): Term | undefined {
  const block = own?.blocks.get(entry.index);
  if (block === undefined) return undefined;
  const { states, hashes } = block;
  if (entry.pieces !== rule) return undefined;
  if (entry.fullBitmap === true) return { term: entry.checksum, pieces: hashes };
  if (parent.pieces === undefined) return undefined;
  const below = parent.pieces.get(entry.index);
  if (below === null) return undefined;
  const zero = below === undefined ? zeroPieceHash(rule, blockSize) : undefined;
  const pieces = Buffer.allocUnsafe(hashes.length);
  for (let k = 0; k < states.length; k++) {
    const at = k * CHECKSUM_SIZE;
    if (states[k] === PIECE_MARKED) hashes.copy(pieces, at, at, at + CHECKSUM_SIZE);
    else if (states[k] === PIECE_UNMARKED) (zero ?? below!.subarray(at, at + CHECKSUM_SIZE)).copy(pieces, at);
    else return undefined;
  }
  return { term: piecesChecksum(full, pieces), pieces };
}

/**
 * `chain` checks its reads; `tables` are its files' entry streams in chain order. A table that
 * disagrees with its file's BAT (an entry without its block, a block without an entry) fails
 * with the error `damage` makes: GetDisk would not emit what the tables describe.
 */
export async function digestChain(context: DigestContext, tables: AsyncIterable<SumsEntry>[]): Promise<ChainDigestResult> {
  const { chain, damage, rule, own, terms } = context;
  const full = Buffer.alloc(bitmapSize(chain.blockSize), 0xff);
  const digest = new DiskDigest();
  let blocksRead = 0;
  let next = 0;
  const noEntryBelow = async (end: number): Promise<void> => {
    for (; next < end; next++) {
      const layer = chain.disks.findIndex((d) => d.hasBlock(next));
      if (layer >= 0) throw await damage(layer, next, 'has no checksum stored at commit');
    }
  };
  const inChain = async function* (): AsyncGenerator<{ layer: number; entry: SumsEntry }> {
    for await (const item of overlaySums(tables)) if (item.entry.index < chain.blockCount) yield item;
  };
  const needsRead = async ({ layer, entry }: { layer: number; entry: SumsEntry }): Promise<number | undefined> => {
    await noEntryBelow(entry.index);
    next = entry.index + 1;
    if (!chain.disks[layer]!.hasBlock(entry.index)) throw await damage(layer, entry.index, 'is missing (its checksum file has an entry for it)');
    const exact = exactByRule(entry, rule) ?? isAllOnes(await readBitmap(chain, layer, entry.index));
    return exact ? undefined : entry.index;
  };
  await forEachReadAhead(chain, inChain(), needsRead, ({ layer, entry }, block) => {
    let found: Term;
    if (block === undefined) found = { term: entry.checksum, pieces: layer === 0 ? (own?.blocks.get(entry.index)?.hashes ?? null) : null };
    else {
      found = termOfData(rule, full, block);
      blocksRead++;
    }
    digest.add(entry.index, found.term);
    terms?.add(entry.index, found.term, found.pieces);
  });
  await noEntryBelow(chain.blockCount);
  return { digest: digest.digest(), blocks: digest.count, blocksRead };
}

/** The stored sector bitmap of block `index` of the chain's file `layer` (no data read). */
async function readBitmap(chain: ChainReader, layer: number, index: number): Promise<Buffer> {
  const disk = chain.disks[layer]!;
  const bitmap = Buffer.alloc(disk.bitmapSize);
  await readFully(disk.handle, bitmap, disk.blockOffset(index)!, `${disk.path}: bitmap of block ${index}`);
  return bitmap;
}
