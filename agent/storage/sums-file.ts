// The `.sums` files of a remote (docs/remote-format.md §6), read and written through the shared
// format (shared/sums): reading turns a format problem into a RemoteFormatError, writing is atomic.
import { readFile } from 'node:fs/promises';
import { DiskDigest } from '../../shared/grpc/disk-checksum.js';
import { SumsFormatError, SumsReader, decodeSums, encodeSums, type BlockSums, type SumsEntry } from '../../shared/sums/index.js';
import { RemoteFormatError } from './errors.js';
import { writeFileAtomic, writeFileExclusive } from '../../shared/files/atomic-write.js';

export type { BlockSums, SumsEntry };

export async function readSumsFile(path: string): Promise<BlockSums> {
  return asRemoteFormatError(async () => decodeSums(await readFile(path), path));
}

export interface SumsSummary {
  /** Bytes. */
  blockSize: number;
  /** Entries (allocated blocks of the file). */
  count: number;
  /** The disk digest of the table. */
  digest: Buffer;
}

/** Block size, entry count and digest of a table, read a chunk at a time (trailing hash checked). */
export async function summarizeSumsFile(path: string): Promise<SumsSummary> {
  return asRemoteFormatError(async () => {
    const reader = await SumsReader.open(path);
    try {
      const digest = new DiskDigest();
      for await (const entry of reader.entries()) digest.add(entry.index, entry.checksum);
      return { blockSize: reader.blockSize, count: digest.count, digest: digest.digest() };
    } finally {
      await reader.close();
    }
  });
}

async function asRemoteFormatError<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof SumsFormatError) throw new RemoteFormatError(error.message, { cause: error });
    throw error;
  }
}

/** Writes a new version 2 table, never over an existing file (FinalFileExistsError); `entries` ascend by index. */
export async function createSumsFile(path: string, blockSize: number, entries: readonly SumsEntry[]): Promise<void> {
  await writeFileExclusive(path, encodeSums(blockSize, entries));
}

/** Replaces a version 2 table (a merge's own tables only); `entries` ascend by index. */
export async function writeSumsFile(path: string, blockSize: number, entries: readonly SumsEntry[]): Promise<void> {
  await writeFileAtomic(path, encodeSums(blockSize, entries));
}

/** The disk digest of a checksum table (docs/remote-format.md §6); `entries` ascend by index. */
export function digestOfEntries(entries: Iterable<SumsEntry>): Buffer {
  const digest = new DiskDigest();
  for (const entry of entries) digest.add(entry.index, entry.checksum);
  return digest.digest();
}
