// The 1024-byte dynamic disk header, at the footer's data offset (512 in every file we write).
// Layout in docs/vhd-module.md ("Dynamic header"). Parent fields are used by differencing disks.
import { vhdChecksum } from './checksum.js';
import {
  HEADER_COOKIE,
  HEADER_SIZE,
  HEADER_VERSION,
  LIMITS,
  PARENT_LOCATOR_COUNT,
  PARENT_NAME_BYTES,
  SECTOR_SIZE,
  isPowerOfTwo,
} from './constants.js';
import { VhdFormatError } from './errors.js';
import { NIL_UUID, bytesToUuid, uuidToBytes } from './uuid.js';

/** Platform codes of parent locators. */
export const PlatformCode = Object.freeze({
  None: 0,
  /** Relative path, UTF-16 little-endian. */
  W2ru: 0x57327275,
  /** Absolute path, UTF-16 little-endian. */
  W2ku: 0x57326b75,
  /** File URL, UTF-8. */
  MacX: 0x4d616358,
});

export interface ParentLocator {
  platformCode: number;
  /** As stored: the spec says sectors, some writers store bytes. */
  platformDataSpace: number;
  /** Bytes. */
  platformDataLength: number;
  /** Absolute file offset of the locator data. */
  platformDataOffset: number;
}

export interface DynamicHeader {
  /** Absolute offset of the BAT. */
  tableOffset: number;
  headerVersion: number;
  maxTableEntries: number;
  /** Bytes; a power of two. */
  blockSize: number;
  /** Footer uuid of the parent (differencing disks), else the nil uuid. */
  parentUuid: string;
  /** Seconds since 2000-01-01 of the parent's modification. */
  parentTimestamp: number;
  /** Parent file name (XAPI and we store the relative name); '' when none. */
  parentUnicodeName: string;
  parentLocators: ParentLocator[];
}

export function emptyLocator(): ParentLocator {
  return { platformCode: PlatformCode.None, platformDataSpace: 0, platformDataLength: 0, platformDataOffset: 0 };
}

export function newHeader(options: {
  tableOffset: number;
  maxTableEntries: number;
  blockSize: number;
  parentUuid?: string;
  parentTimestamp?: number;
  parentUnicodeName?: string;
  parentLocators?: ParentLocator[];
}): DynamicHeader {
  const locators = options.parentLocators ?? [];
  return {
    tableOffset: options.tableOffset,
    headerVersion: HEADER_VERSION,
    maxTableEntries: options.maxTableEntries,
    blockSize: options.blockSize,
    parentUuid: options.parentUuid ?? NIL_UUID,
    parentTimestamp: options.parentTimestamp ?? 0,
    parentUnicodeName: options.parentUnicodeName ?? '',
    parentLocators: Array.from({ length: PARENT_LOCATOR_COUNT }, (_, i) => locators[i] ?? emptyLocator()),
  };
}

export function encodeHeader(header: DynamicHeader): Buffer {
  const buf = Buffer.alloc(HEADER_SIZE);
  buf.write(HEADER_COOKIE, 0, 'latin1');
  buf.writeBigUInt64BE(0xffffffffffffffffn, 8);
  buf.writeBigUInt64BE(BigInt(header.tableOffset), 16);
  buf.writeUInt32BE(header.headerVersion >>> 0, 24);
  buf.writeUInt32BE(header.maxTableEntries >>> 0, 28);
  buf.writeUInt32BE(header.blockSize >>> 0, 32);
  uuidToBytes(header.parentUuid, buf, 40);
  buf.writeUInt32BE(header.parentTimestamp >>> 0, 56);
  const name = encodeUtf16Be(header.parentUnicodeName);
  if (name.length > PARENT_NAME_BYTES) throw new RangeError(`parent name longer than ${PARENT_NAME_BYTES / 2} UTF-16 units`);
  name.copy(buf, 64);
  header.parentLocators.slice(0, PARENT_LOCATOR_COUNT).forEach((loc, i) => {
    const at = 576 + i * 24;
    buf.writeUInt32BE(loc.platformCode >>> 0, at);
    buf.writeUInt32BE(loc.platformDataSpace >>> 0, at + 4);
    buf.writeUInt32BE(loc.platformDataLength >>> 0, at + 8);
    buf.writeBigUInt64BE(BigInt(loc.platformDataOffset), at + 16);
  });
  buf.writeUInt32BE(vhdChecksum(buf, 36), 36);
  return buf;
}

/**
 * Decodes and validates a header. `currentSize` (from the footer) bounds the table: the BAT must
 * cover the disk, and may not be absurdly larger than it.
 */
export function decodeHeader(buf: Uint8Array, currentSize: number, where = 'dynamic header'): DynamicHeader {
  if (buf.length < HEADER_SIZE) throw new VhdFormatError(where, `truncated: ${buf.length} of ${HEADER_SIZE} bytes`);
  const b = Buffer.from(buf.buffer, buf.byteOffset, HEADER_SIZE);
  const cookie = b.toString('latin1', 0, 8);
  if (cookie !== HEADER_COOKIE) throw new VhdFormatError(where, `bad cookie ${JSON.stringify(cookie)}, expected "cxsparse"`);
  const stored = b.readUInt32BE(36);
  const computed = vhdChecksum(b, 36);
  if (stored !== computed) {
    throw new VhdFormatError(where, `bad checksum 0x${stored.toString(16)}, computed 0x${computed.toString(16)}`);
  }
  const blockSize = b.readUInt32BE(32);
  if (!isPowerOfTwo(blockSize)) throw new VhdFormatError(where, `block size ${blockSize} is not a power of two`);
  if (blockSize < LIMITS.minBlockSize || blockSize > LIMITS.maxBlockSize) {
    throw new VhdFormatError(where, `block size ${blockSize} outside ${LIMITS.minBlockSize}..${LIMITS.maxBlockSize}`);
  }
  const maxTableEntries = b.readUInt32BE(28);
  const needed = Math.ceil(currentSize / blockSize);
  // Writers may reserve a larger table (qemu rounds; a merge may have grown it) but never one
  // past what the largest disk could use.
  const ceiling = Math.min(Math.ceil(LIMITS.maxVirtualSize / blockSize), LIMITS.maxBatEntries);
  if (maxTableEntries < needed && needed > LIMITS.maxBatEntries) {
    throw new VhdFormatError(where, `BAT of ${needed} entries (${currentSize} bytes in blocks of ${blockSize}) is past the limit of ${LIMITS.maxBatEntries}; use larger blocks`);
  }
  if (maxTableEntries < needed) {
    throw new VhdFormatError(where, `BAT has ${maxTableEntries} entries, the disk size needs ${needed}`);
  }
  if (maxTableEntries > ceiling) throw new VhdFormatError(where, `BAT of ${maxTableEntries} entries is past the limit of ${ceiling}`);
  const tableOffset = b.readBigUInt64BE(16);
  if (tableOffset > BigInt(Number.MAX_SAFE_INTEGER) || Number(tableOffset) % SECTOR_SIZE !== 0) {
    throw new VhdFormatError(where, `BAT offset ${tableOffset} is not a sector boundary`);
  }
  const parentLocators: ParentLocator[] = [];
  for (let i = 0; i < PARENT_LOCATOR_COUNT; i++) {
    const at = 576 + i * 24;
    parentLocators.push({
      platformCode: b.readUInt32BE(at),
      platformDataSpace: b.readUInt32BE(at + 4),
      platformDataLength: b.readUInt32BE(at + 8),
      platformDataOffset: Number(b.readBigUInt64BE(at + 16)),
    });
  }
  return {
    tableOffset: Number(tableOffset),
    headerVersion: b.readUInt32BE(24),
    maxTableEntries,
    blockSize,
    parentUuid: bytesToUuid(b, 40),
    parentTimestamp: b.readUInt32BE(56),
    parentUnicodeName: decodeUtf16Be(b.subarray(64, 64 + PARENT_NAME_BYTES)),
    parentLocators,
  };
}

export function encodeUtf16Be(text: string): Buffer {
  const le = Buffer.from(text, 'utf16le');
  return le.swap16();
}

export function decodeUtf16Be(bytes: Uint8Array): string {
  let end = 0;
  while (end + 1 < bytes.length && (bytes[end] !== 0 || bytes[end + 1] !== 0)) end += 2;
  const copy = Buffer.from(bytes.subarray(0, end));
  return copy.swap16().toString('utf16le');
}
