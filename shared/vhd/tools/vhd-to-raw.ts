// `vhd to-raw`: what a chain reads, as a raw image of exactly its virtual size. Blocks allocated
// nowhere in the chain are left as holes (the output is sparse where the disk is), the rest are
// read through ChainReader one block ahead of the writes. The image goes to a temporary name in
// the output's folder and is renamed into place after an fsync: a failure leaves nothing behind.
import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { InvalidInputError } from '../../errors.js';
import { ChainReader } from '../chain-reader.js';
import { blockCount } from '../format/index.js';
import { fsyncFolder } from '../../files/fsync-folder.js';
import type { ProgressSink } from '../types.js';
import { pathExists } from './path-exists.js';

export interface VhdToRawOptions {
  vhdPath: string;
  outPath: string;
  /** Replace an existing output file. */
  overwrite?: boolean;
  onProgress?: ProgressSink;
}

export interface VhdToRawResult {
  path: string;
  /** Bytes: the chain's virtual size. */
  size: number;
  /** Blocks holding data somewhere in the chain. */
  allocatedBlocks: number;
  chainLength: number;
}

export async function vhdToRaw(options: VhdToRawOptions): Promise<VhdToRawResult> {
  const outPath = resolve(options.outPath);
  if (!options.overwrite && (await pathExists(outPath))) {
    throw new InvalidInputError(`${options.outPath} already exists; remove it or pass --force`);
  }
  const chain = await ChainReader.open(options.vhdPath);
  const tempPath = join(dirname(outPath), `.${basename(outPath)}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const allocatedBlocks = await writeImage(chain, tempPath, options.onProgress);
    await rename(tempPath, outPath);
    await fsyncFolder(dirname(outPath));
    return { path: outPath, size: chain.currentSize, allocatedBlocks, chainLength: chain.disks.length };
  } catch (error) {
    await unlink(tempPath).catch(() => undefined);
    throw error;
  } finally {
    await chain.close();
  }
}

async function writeImage(chain: ChainReader, tempPath: string, onProgress: ProgressSink | undefined): Promise<number> {
  const { blockSize, currentSize } = chain;
  const count = blockCount(currentSize, blockSize);
  const indexes: number[] = [];
  for (let i = 0; i < count; i++) if (chain.isAllocated(i)) indexes.push(i);
  const out = await open(tempPath, 'wx');
  try {
    const fetch = (index: number): Promise<Buffer> => {
      const promise = chain.readBlock(index);
      promise.catch(() => undefined);
      return promise;
    };
    let next = indexes.length > 0 ? fetch(indexes[0]!) : undefined;
    for (let k = 0; k < indexes.length; k++) {
      const data = await next!;
      next = k + 1 < indexes.length ? fetch(indexes[k + 1]!) : undefined;
      const offset = indexes[k]! * blockSize;
      const length = Math.min(blockSize, currentSize - offset);
      let done = 0;
      while (done < length) done += (await out.write(data, done, length - done, offset + done)).bytesWritten;
      onProgress?.(k + 1, indexes.length);
    }
    await out.truncate(currentSize);
    await out.sync();
  } finally {
    await out.close();
  }
  return indexes.length;
}
