// A file read in fixed-size chunks through two buffers used in turn: the read of the next chunk
// is in flight while the consumer handles the current one, and nothing is allocated per chunk —
// unlike fs.createReadStream, which allocates a fresh buffer for every read (the garbage
// collector then frees them in bulk, and the next ones are page-faulted in again). A chunk stays
// intact only until the consumer asks for the next one, which parseVhdStream's borrowed mode
// (`reuseBuffers: true`) accepts. The bench uses it to measure the parser on an input that costs
// what `cat`'s reads cost.
import { open } from 'node:fs/promises';

export async function* recycledFileChunks(path: string, chunkBytes: number): AsyncGenerator<Buffer> {
  const file = await open(path, 'r');
  const buffers = [Buffer.allocUnsafe(chunkBytes), Buffer.allocUnsafe(chunkBytes)];
  let turn = 0;
  let next = file.read(buffers[turn]!, 0, chunkBytes, null);
  try {
    for (;;) {
      const { bytesRead, buffer } = await next;
      if (bytesRead === 0) return;
      turn ^= 1;
      // The other buffer held the chunk before this one, which the consumer has let go of.
      next = file.read(buffers[turn]!, 0, chunkBytes, null);
      yield bytesRead === chunkBytes ? buffer : buffer.subarray(0, bytesRead);
    }
  } finally {
    await next.catch(() => undefined); // a consumer that stopped early leaves one read in flight
    await file.close();
  }
}
