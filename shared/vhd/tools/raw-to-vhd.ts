// `vhd from-raw`: a raw image as a new dynamic VHD (all-zero blocks left out), or, given a parent
// chain, as a differencing VHD holding only the blocks whose bytes differ from what the chain
// reads there (written whole, full bitmap — the way XAPI writes deltas).
//
// The raw file is read block by block (one block ahead of the writer, never the whole image) and
// the decision per block is `blockNeeded` (pure). The output is written by VhdWriter to a
// temporary name and renamed into place only when complete: a failure leaves nothing behind.
import { randomUUID } from 'node:crypto';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { dirname, relative, resolve, sep } from 'node:path';
import { InvalidInputError, errorMessage } from '../../errors.js';
import { ChainReader } from '../chain-reader.js';
import { DEFAULT_BLOCK_SIZE, DiskType, LIMITS, SECTOR_SIZE, blockCount } from '../format/index.js';
import type { ProgressSink } from '../types.js';
import { pathExists } from './path-exists.js';
import { VhdWriter, type VhdWriterResult } from '../vhd-writer.js';
import { blockNeeded } from './block-needed.js';

export interface RawToVhdOptions {
  rawPath: string;
  outPath: string;
  /** Makes a differencing VHD against the chain whose newest disk is this file. */
  parentPath?: string;
  /** Bytes; dynamic disks only (a child takes its parent's). Default 2 MiB. */
  blockSize?: number;
  /** Footer uuid of the new disk; random by default. */
  uuid?: string;
  /** Replace an existing output file. */
  overwrite?: boolean;
  onProgress?: ProgressSink;
}

export interface RawToVhdResult extends VhdWriterResult {
  blockCount: number;
  uuid: string;
}

export async function rawToVhd(options: RawToVhdOptions): Promise<RawToVhdResult> {
  const size = await rawSize(options.rawPath);
  if (!options.overwrite && (await pathExists(options.outPath))) {
    throw new InvalidInputError(`${options.outPath} already exists; remove it or pass --force`);
  }
  const chain = options.parentPath === undefined ? undefined : await ChainReader.open(options.parentPath);
  try {
    const blockSize = chooseBlockSize(options, chain, size);
    const uuid = options.uuid ?? randomUUID();
    const head = chain?.disks[0];
    const writer = await VhdWriter.create({
      path: options.outPath,
      diskType: chain ? DiskType.Differencing : DiskType.Dynamic,
      currentSize: size,
      uuid,
      blockSize,
      parent: head && { uuid: head.footer.uuid, timestamp: head.footer.timestamp, relativeName: relativeName(options.outPath, head.path) },
    });
    try {
      await copyBlocks(options, writer, chain, size);
      return { ...(await writer.finish()), blockCount: blockCount(size, blockSize), uuid };
    } catch (error) {
      await writer.abort();
      throw error;
    }
  } finally {
    await chain?.close();
  }
}

async function copyBlocks(options: RawToVhdOptions, writer: VhdWriter, chain: ChainReader | undefined, size: number): Promise<void> {
  const { blockSize } = writer;
  const count = blockCount(size, blockSize);
  const zero = Buffer.alloc(blockSize);
  const raw = await open(options.rawPath, 'r');
  try {
    const fetch = (index: number): Promise<[Buffer, Buffer | undefined]> => {
      const parent = chain && index < chain.disks[0]!.blockCount ? chain.readBlock(index) : undefined;
      const both = Promise.all([readRawBlock(raw, options.rawPath, index, blockSize, size), parent]);
      both.catch(() => undefined);
      return both;
    };
    let next = count > 0 ? fetch(0) : undefined;
    for (let index = 0; index < count; index++) {
      const [data, parentData] = await next!;
      next = index + 1 < count ? fetch(index + 1) : undefined;
      const validBytes = Math.min(blockSize, size - index * blockSize);
      const needed = blockNeeded({
        data,
        validBytes,
        parent: chain === undefined ? undefined : (parentData ?? zero),
        insideParent: chain !== undefined && index * blockSize + validBytes <= chain.currentSize,
        zero,
      });
      if (needed) await writer.writeBlock(index, data);
      options.onProgress?.(index + 1, count);
    }
  } finally {
    await raw.close();
  }
}

async function readRawBlock(raw: FileHandle, path: string, index: number, blockSize: number, size: number): Promise<Buffer> {
  const offset = index * blockSize;
  const length = Math.min(blockSize, size - offset);
  const data = length === blockSize ? Buffer.allocUnsafe(blockSize) : Buffer.alloc(blockSize);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await raw.read(data, done, length - done, offset + done);
    if (bytesRead === 0) throw new InvalidInputError(`${path}: ends at byte ${offset + done}, expected ${size} bytes (changed while reading?)`);
    done += bytesRead;
  }
  return data;
}

async function rawSize(path: string): Promise<number> {
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    throw new InvalidInputError(`${path}: cannot read the raw image (${errorMessage(error)})`, { cause: error });
  }
  if (!info.isFile()) throw new InvalidInputError(`${path}: not a regular file`);
  const size = info.size;
  if (size === 0 || size % SECTOR_SIZE !== 0) {
    throw new InvalidInputError(`${path}: ${size} bytes is not a positive multiple of ${SECTOR_SIZE} (a disk is whole sectors)`);
  }
  if (size > LIMITS.maxVirtualSize) throw new InvalidInputError(`${path}: ${size} bytes is past the VHD limit of ${LIMITS.maxVirtualSize}`);
  return size;
}

function chooseBlockSize(options: RawToVhdOptions, chain: ChainReader | undefined, size: number): number {
  if (!chain) return options.blockSize ?? DEFAULT_BLOCK_SIZE;
  if (options.blockSize !== undefined && options.blockSize !== chain.blockSize) {
    throw new InvalidInputError(`--block-size ${options.blockSize} differs from the parent's ${chain.blockSize}; a child uses its parent's block size`);
  }
  if (size < chain.currentSize) {
    throw new InvalidInputError(
      `${options.rawPath}: ${size} bytes is smaller than the parent chain's ${chain.currentSize}; a differencing disk cannot shrink its parent`,
    );
  }
  return chain.blockSize;
}

/** The parent's name as stored in the child's header: relative to the child's folder, "./" first. */
export function relativeName(childPath: string, parentPath: string): string {
  const rel = relative(dirname(resolve(childPath)), resolve(parentPath)).split(sep).join('/');
  return rel.startsWith('../') ? rel : `./${rel}`;
}
