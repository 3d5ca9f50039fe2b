// The chain digest (docs/remote-format.md §6) of a dynamic VHD stream, computed as the bytes go
// by: fed every chunk in order, it decodes the footer, the dynamic header and the BAT (shared VHD
// format code, checked as the stream parser checks them), then hashes each allocated block —
// its sector bitmap and data, exactly as they are in the stream — by the digest's rule and adds
// the block's checksum to a DiskDigest. For the synthetic stream a restore receives (every block
// with an all-ones bitmap, blocks in index order) that is the chain digest the storage agent
// recorded when the backup was committed. Nothing is copied but the footer, header and BAT; the
// blocks are hashed straight from the chunks, so memory stays at one BAT whatever the disk.
import { createHash, type Hash } from 'node:crypto';
import { DiskDigest, hashOfPiece, isPieceRule, newPieceHash, pieceBytes, type ChecksumRule, type PieceHash, type PieceRule } from '../../../shared/grpc/disk-checksum.js';
import { dynamicBlockOrder } from '../../../shared/vhd/block-layout.js';
import { checkStreamBat } from '../../../shared/vhd/stream-parser.js';
import { DiskType, FOOTER_SIZE, HEADER_SIZE, SECTOR_SIZE, VhdFormatError, bitmapSize, decodeBat, decodeFooter, decodeHeader, type DynamicHeader, type Footer } from '../../../shared/vhd/format/index.js';

/** A structure read whole before it is decoded: where it starts and ends in the stream. */
interface Region {
  start: number;
  bytes: Buffer;
  filled: number;
  decode(bytes: Buffer): void;
}

export class VhdStreamDigest {
  readonly #where: string;
  readonly #digest = new DiskDigest();
  /** Bytes of the stream consumed so far. */
  #position = 0;
  /** The structure being read whole, if any. */
  #region: Region | undefined;
  #footer: Footer | undefined;
  #header: DynamicHeader | undefined;
  #bat: Uint32Array | undefined;
  /** Block indexes in stream order, once the BAT was read. */
  #order: Uint32Array | undefined;
  /** Position in #order of the block being hashed or awaited. */
  #next = 0;
  #blockStart = 0;
  /** Bitmap and data bytes of one block. */
  #blockBytes = 0;
  /** Bytes of the current block hashed so far. */
  #hashed = 0;
  #hash: Hash | undefined;
  readonly #rule: ChecksumRule;
  /** Piece rule: bitmap bytes of a block, bytes of a piece, the piece being hashed. */
  #bitmapBytes = 0;
  #pieceBytes = 0;
  #piece: PieceHash | undefined;

  /** `rule`: of the chain digest the stream is to have (GetDisk's vhdStart says). */
  constructor(where = 'VHD stream', rule: ChecksumRule = 'whole') {
    this.#where = where;
    this.#rule = rule;
    this.#region = { start: 0, bytes: Buffer.alloc(FOOTER_SIZE), filled: 0, decode: (bytes) => this.#readFooter(bytes) };
  }

  /** Bytes fed so far. */
  get position(): number {
    return this.#position;
  }

  /** Blocks hashed so far. */
  get blocks(): number {
    return this.#digest.count;
  }

  /** Feeds the next bytes of the stream. Throws VhdFormatError when the layout is not one it can digest. */
  update(chunk: Uint8Array): void {
    let offset = 0;
    while (offset < chunk.length) {
      const target = this.#nextStart();
      const step =
        target === undefined ? chunk.length - offset
        : this.#position < target ? Math.min(chunk.length - offset, target - this.#position)
        : this.#region !== undefined ? this.#fill(chunk, offset)
        : this.#hashBlock(chunk, offset);
      offset += step;
      this.#position += step;
      if (this.#region !== undefined && this.#region.filled === this.#region.bytes.length) this.#decodeRegion();
    }
  }

  /** The digest, once the whole stream was fed; throws when it ended before its last block. */
  digest(): Buffer {
    if (this.#order === undefined || this.#next < this.#order.length) {
      const what = this.#order === undefined ? 'its footer, header and BAT were read' : `block ${this.#order[this.#next]} was whole`;
      throw new VhdFormatError(this.#where, `the stream ended after ${this.#position} bytes, before ${what}`);
    }
    return this.#digest.digest();
  }

  /** Where the next byte of interest is; undefined once every block was hashed (the rest is the closing footer). */
  #nextStart(): number | undefined {
    if (this.#region !== undefined) return this.#region.start + this.#region.filled;
    if (this.#order === undefined || this.#next >= this.#order.length) return undefined;
    return this.#blockStart + this.#hashed;
  }

  #fill(chunk: Uint8Array, offset: number): number {
    const region = this.#region!;
    const take = Math.min(chunk.length - offset, region.bytes.length - region.filled);
    region.bytes.set(chunk.subarray(offset, offset + take), region.filled);
    region.filled += take;
    return take;
  }

  #decodeRegion(): void {
    const region = this.#region!;
    this.#region = undefined;
    region.decode(region.bytes);
  }

  #hashBlock(chunk: Uint8Array, offset: number): number {
    this.#hash ??= createHash('sha256');
    const take = Math.min(chunk.length - offset, this.#blockBytes - this.#hashed);
    if (isPieceRule(this.#rule)) this.#hashPieces(this.#rule, chunk.subarray(offset, offset + take));
    else {
      this.#hash.update(chunk.subarray(offset, offset + take));
      this.#hashed += take;
    }
    if (this.#hashed === this.#blockBytes) {
      this.#digest.add(this.#order![this.#next]!, this.#hash.digest());
      this.#hash = undefined;
      this.#hashed = 0;
      this.#next++;
      this.#startBlock();
    }
    return take;
  }

  /** Piece rules: the bitmap goes to the block's hash as is, each piece of data as its own hash (in one call when the piece lies in one chunk). */
  #hashPieces(rule: PieceRule, bytes: Uint8Array): void {
    for (let at = 0; at < bytes.length; ) {
      if (this.#hashed < this.#bitmapBytes) {
        const n = Math.min(bytes.length - at, this.#bitmapBytes - this.#hashed);
        this.#hash!.update(bytes.subarray(at, at + n));
        at += n;
        this.#hashed += n;
        continue;
      }
      const inPiece = (this.#hashed - this.#bitmapBytes) % this.#pieceBytes;
      const n = Math.min(bytes.length - at, this.#pieceBytes - inPiece);
      if (n === this.#pieceBytes) {
        this.#hash!.update(hashOfPiece(rule, bytes.subarray(at, at + n)));
        at += n;
        this.#hashed += n;
        continue;
      }
      this.#piece ??= newPieceHash(rule);
      this.#piece.update(bytes.subarray(at, at + n));
      at += n;
      this.#hashed += n;
      if (inPiece + n === this.#pieceBytes) {
        this.#hash!.update(this.#piece.digest());
        this.#piece = undefined;
      }
    }
  }

  #readFooter(bytes: Buffer): void {
    const where = `${this.#where}: footer at byte 0`;
    const footer = decodeFooter(bytes, where);
    if (footer.diskType !== DiskType.Dynamic || footer.dataOffset === undefined) {
      throw new VhdFormatError(where, `disk type ${footer.diskType} is not a dynamic disk: a restore stream is one dynamic VHD`);
    }
    this.#footer = footer;
    this.#expect(footer.dataOffset, HEADER_SIZE, 'dynamic header', (header) => this.#readHeader(header));
  }

  #readHeader(bytes: Buffer): void {
    const where = `${this.#where}: dynamic header at byte ${this.#footer!.dataOffset}`;
    const header = decodeHeader(bytes, this.#footer!.currentSize, where);
    const batBytes = checkStreamBat(header, where);
    this.#header = header;
    this.#expect(header.tableOffset, batBytes, 'BAT', (bat) => this.#readBat(bat));
  }

  #readBat(bytes: Buffer): void {
    const header = this.#header!;
    const footer = this.#footer!;
    const bat = decodeBat(bytes, header.maxTableEntries);
    this.#bitmapBytes = bitmapSize(header.blockSize);
    this.#pieceBytes = pieceBytes(header.blockSize);
    this.#blockBytes = this.#bitmapBytes + header.blockSize;
    const order = dynamicBlockOrder(bat, { dataOffset: footer.dataOffset!, header, where: this.#where, blocksAfterBat: true });
    // The digest takes blocks by ascending index; a stream that lays them out otherwise is not
    // the synthetic stream a storage agent sends.
    for (let k = 1; k < order.length; k++) {
      if (order[k]! < order[k - 1]!) {
        throw new VhdFormatError(`${this.#where}: BAT entry ${order[k]}`, `block ${order[k]} comes after block ${order[k - 1]} in the stream: blocks must be in index order`);
      }
    }
    this.#bat = bat;
    this.#order = order;
    this.#startBlock();
  }

  #startBlock(): void {
    const index = this.#order![this.#next];
    if (index !== undefined) this.#blockStart = this.#bat![index]! * SECTOR_SIZE;
  }

  #expect(start: number, length: number, what: string, decode: (bytes: Buffer) => void): void {
    if (start < this.#position) throw new VhdFormatError(this.#where, `the ${what} at byte ${start} overlaps the structure before it (ends at byte ${this.#position})`);
    this.#region = { start, bytes: Buffer.alloc(length), filled: 0, decode };
  }
}
