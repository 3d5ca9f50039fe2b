// The 512-byte footer: at the end of every VHD, and copied at offset 0 of dynamic and
// differencing disks. Layout in docs/vhd-module.md ("Footer").
import { vhdChecksum } from './checksum.js';
import {
  DiskType,
  FEATURES_RESERVED,
  FILE_FORMAT_VERSION,
  FOOTER_COOKIE,
  FOOTER_SIZE,
  LIMITS,
  VHD_EPOCH_OFFSET,
} from './constants.js';
import { VhdFormatError } from './errors.js';
import { computeGeometry, type Geometry } from './geometry.js';
import { bytesToUuid, uuidToBytes } from './uuid.js';

const FIXED_DATA_OFFSET = 0xffffffffffffffffn;

export interface Footer {
  features: number;
  fileFormatVersion: number;
  /** Absolute offset of the dynamic header; undefined for fixed disks. */
  dataOffset: number | undefined;
  /** Seconds since 2000-01-01T00:00:00Z. */
  timestamp: number;
  creatorApplication: string;
  creatorVersion: number;
  creatorHostOs: string;
  /** Bytes. */
  originalSize: number;
  /** Bytes: the exact virtual size of the disk. */
  currentSize: number;
  geometry: Geometry;
  diskType: DiskType;
  uuid: string;
  savedState: number;
}

export interface NewFooterOptions {
  diskType: DiskType;
  /** Bytes. */
  currentSize: number;
  uuid: string;
  /** Defaults to now. */
  date?: Date;
  creatorApplication?: string;
}

export function vhdTimestamp(date: Date): number {
  return Math.max(0, Math.floor(date.getTime() / 1000) - VHD_EPOCH_OFFSET) >>> 0;
}

export function dateFromVhdTimestamp(timestamp: number): Date {
  return new Date((timestamp + VHD_EPOCH_OFFSET) * 1000);
}

export function newFooter(options: NewFooterOptions): Footer {
  return {
    features: FEATURES_RESERVED,
    fileFormatVersion: FILE_FORMAT_VERSION,
    dataOffset: options.diskType === DiskType.Fixed ? undefined : FOOTER_SIZE,
    timestamp: vhdTimestamp(options.date ?? new Date()),
    creatorApplication: options.creatorApplication ?? 'dchn',
    creatorVersion: 0x00010000,
    creatorHostOs: 'Wi2k',
    originalSize: options.currentSize,
    currentSize: options.currentSize,
    geometry: computeGeometry(options.currentSize),
    diskType: options.diskType,
    uuid: options.uuid,
    savedState: 0,
  };
}

export function encodeFooter(footer: Footer): Buffer {
  const buf = Buffer.alloc(FOOTER_SIZE);
  buf.write(FOOTER_COOKIE, 0, 'latin1');
  buf.writeUInt32BE(footer.features >>> 0, 8);
  buf.writeUInt32BE(footer.fileFormatVersion >>> 0, 12);
  buf.writeBigUInt64BE(footer.dataOffset === undefined ? FIXED_DATA_OFFSET : BigInt(footer.dataOffset), 16);
  buf.writeUInt32BE(footer.timestamp >>> 0, 24);
  buf.write(footer.creatorApplication.padEnd(4, '\0').slice(0, 4), 28, 'latin1');
  buf.writeUInt32BE(footer.creatorVersion >>> 0, 32);
  buf.write(footer.creatorHostOs.padEnd(4, '\0').slice(0, 4), 36, 'latin1');
  buf.writeBigUInt64BE(BigInt(footer.originalSize), 40);
  buf.writeBigUInt64BE(BigInt(footer.currentSize), 48);
  buf.writeUInt16BE(footer.geometry.cylinders, 56);
  buf.writeUInt8(footer.geometry.heads, 58);
  buf.writeUInt8(footer.geometry.sectorsPerTrack, 59);
  buf.writeUInt32BE(footer.diskType, 60);
  uuidToBytes(footer.uuid, buf, 68);
  buf.writeUInt8(footer.savedState, 84);
  buf.writeUInt32BE(vhdChecksum(buf, 64), 64);
  return buf;
}

/** Decodes and validates a footer; `where` names it in errors ("footer at offset 0"). */
export function decodeFooter(buf: Uint8Array, where = 'footer'): Footer {
  if (buf.length < FOOTER_SIZE) throw new VhdFormatError(where, `truncated: ${buf.length} of ${FOOTER_SIZE} bytes`);
  const b = Buffer.from(buf.buffer, buf.byteOffset, FOOTER_SIZE);
  const cookie = b.toString('latin1', 0, 8);
  if (cookie !== FOOTER_COOKIE) throw new VhdFormatError(where, `bad cookie ${JSON.stringify(cookie)}, expected "conectix"`);
  const stored = b.readUInt32BE(64);
  const computed = vhdChecksum(b, 64);
  if (stored !== computed) {
    throw new VhdFormatError(where, `bad checksum 0x${hex(stored)}, computed 0x${hex(computed)}`);
  }
  const diskType = b.readUInt32BE(60);
  if (diskType !== DiskType.Fixed && diskType !== DiskType.Dynamic && diskType !== DiskType.Differencing) {
    throw new VhdFormatError(where, `unsupported disk type ${diskType}`);
  }
  const currentSize = readSize(b, 48, where, 'current size');
  const rawDataOffset = b.readBigUInt64BE(16);
  let dataOffset: number | undefined;
  if (diskType === DiskType.Fixed) {
    dataOffset = undefined;
  } else {
    if (rawDataOffset === FIXED_DATA_OFFSET || rawDataOffset > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new VhdFormatError(where, `dynamic disk without a header offset`);
    }
    dataOffset = Number(rawDataOffset);
  }
  return {
    features: b.readUInt32BE(8),
    fileFormatVersion: b.readUInt32BE(12),
    dataOffset,
    timestamp: b.readUInt32BE(24),
    creatorApplication: b.toString('latin1', 28, 32),
    creatorVersion: b.readUInt32BE(32),
    creatorHostOs: b.toString('latin1', 36, 40),
    originalSize: Number(b.readBigUInt64BE(40)),
    currentSize,
    geometry: { cylinders: b.readUInt16BE(56), heads: b.readUInt8(58), sectorsPerTrack: b.readUInt8(59) },
    diskType,
    uuid: bytesToUuid(b, 68),
    savedState: b.readUInt8(84),
  };
}

function readSize(b: Buffer, offset: number, where: string, what: string): number {
  const value = b.readBigUInt64BE(offset);
  if (value > BigInt(LIMITS.maxVirtualSize)) {
    throw new VhdFormatError(where, `${what} ${value} bytes is past the limit of ${LIMITS.maxVirtualSize}`);
  }
  return Number(value);
}

function hex(n: number): string {
  return n.toString(16).padStart(8, '0');
}
