// Reads what identifies a VHD on a remote — footer uuid, type, parent link, sizes — from its
// first 1536 bytes (footer copy + dynamic header), without loading the BAT. Enough to resolve
// chains and answer HasBase over many files cheaply.
import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import { DiskType, FOOTER_SIZE, HEADER_SIZE, decodeFooter, decodeHeader } from '../../shared/vhd/index.js';
import { RemoteFormatError } from './errors.js';

export interface DiskIdentity {
  path: string;
  name: string;
  footerUuid: string;
  diskType: DiskType;
  virtualSize: number;
  blockSize: number;
  /** Differencing only: the parent's footer uuid and the name its header gives (basename). */
  parentUuid: string | undefined;
  parentName: string | undefined;
  /** VHD footer timestamp, seconds since 2000-01-01. */
  timestamp: number;
  fileSize: number;
  mtimeMs: number;
}

export async function readDiskIdentity(path: string): Promise<DiskIdentity> {
  const handle = await open(path, 'r');
  try {
    const stat = await handle.stat();
    const buf = Buffer.alloc(FOOTER_SIZE + HEADER_SIZE);
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    if (bytesRead < buf.length) throw new RemoteFormatError(`${path}: ${bytesRead} bytes, too short for a dynamic VHD`);
    const footer = decodeFooter(buf.subarray(0, FOOTER_SIZE), `${path} footer`);
    if (footer.diskType === DiskType.Fixed || footer.dataOffset !== FOOTER_SIZE) {
      throw new RemoteFormatError(`${path}: not a dynamic or differencing VHD with its header at 512`);
    }
    const header = decodeHeader(buf.subarray(FOOTER_SIZE), footer.currentSize, `${path} header`);
    const differencing = footer.diskType === DiskType.Differencing;
    return {
      path,
      name: basename(path),
      footerUuid: footer.uuid,
      diskType: footer.diskType,
      virtualSize: footer.currentSize,
      blockSize: header.blockSize,
      parentUuid: differencing ? header.parentUuid : undefined,
      parentName: differencing ? basename(header.parentUnicodeName.replace(/\\/g, '/')) : undefined,
      timestamp: footer.timestamp,
      fileSize: stat.size,
      mtimeMs: stat.mtimeMs,
    };
  } finally {
    await handle.close();
  }
}
