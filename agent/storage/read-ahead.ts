// Reads blocks a few ahead of the one being used, so a file read (a thread of the pool copying
// 2 MiB) overlaps the hashing of the block before it. Items are used strictly in order; each read
// goes into one of `depth + 1` buffers, reused once the block it held has been used.
import type { ChainReader } from '../../shared/vhd/index.js';

/** Blocks read ahead of the one being hashed (docs/performance-notes.md, "Commit: reads overlap the hashing": 2 measured against 0). */
export const READ_AHEAD_BLOCKS = 2;

/**
 * For each item in order: `need(item)` says which block must be read for it, if any; `use` gets
 * the item and, when one was read, the block's bytes (valid until `use` returns or resolves).
 * While `use` runs or awaits, the reads ahead go on, their checks included.
 */
export async function forEachReadAhead<T>(
  chain: ChainReader,
  items: AsyncIterable<T>,
  need: (item: T) => Promise<number | undefined> | number | undefined,
  use: (item: T, block: Buffer | undefined) => void | Promise<void>,
  depth = READ_AHEAD_BLOCKS,
): Promise<void> {
  const buffers = Array.from({ length: depth + 1 }, () => Buffer.allocUnsafeSlow(chain.blockSize));
  const pending: Array<{ item: T; read: Promise<Buffer> | undefined }> = [];
  let reads = 0;
  let inFlight = 0;
  const next = async (): Promise<void> => {
    const { item, read } = pending.shift()!;
    if (read !== undefined) inFlight--;
    await use(item, read === undefined ? undefined : await read);
  };
  try {
    for await (const item of items) {
      const index = await need(item);
      if (index !== undefined) {
        while (inFlight > depth) await next();
        const read = chain.readBlock(index, buffers[reads++ % buffers.length]);
        // Awaited in order by `next`; until then a failure must not count as unhandled.
        read.catch(() => undefined);
        pending.push({ item, read });
        inFlight++;
      } else pending.push({ item, read: undefined });
      // Items that need no read are used as soon as nothing is before them.
      while (pending.length > 0 && pending[0]!.read === undefined) await next();
    }
    while (pending.length > 0) await next();
  } finally {
    // A failure leaves reads in flight: let them settle before the caller closes the files.
    await Promise.allSettled(pending.map((p) => p.read));
  }
}
