// Direct I/O (O_DIRECT) for the block store's whole-block reads and writes. A buffered write of a
// new block costs the kernel a fresh page-cache page per 4 KiB, and on a VM whose memory is
// handed back to the host while free, touching fresh pages is most of the lab's CPU during an
// import (measured: 4 GiB written 2–4× the CPU of direct writes). Direct I/O moves the bytes by
// DMA from the caller's buffer instead, and leaves the page cache as it was.
// O_DIRECT wants the buffer's address, the file offset and the length aligned (to 512 bytes on
// most devices; 4096 here, to be safe). Node's Buffers guarantee no address alignment, but a
// resizable ArrayBuffer is a reservation of whole pages, so its first byte is page-aligned; only
// such buffers, made by `alignedBuffer`, are written directly. Where that does not hold, or the
// filesystem refuses O_DIRECT, the store falls back to buffered I/O: same bytes, more CPU.
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

/** Alignment asked of addresses, offsets and lengths of direct reads and writes (bytes). */
export const DIRECT_ALIGNMENT = 4096;

const aligned = new WeakSet<ArrayBufferLike>();

/** A buffer of `size` bytes whose first byte is page-aligned (as far as the runtime tells). */
export function alignedBuffer(size: number): Buffer {
  const Resizable = ArrayBuffer as unknown as new (length: number, options: { maxByteLength: number }) => ArrayBuffer;
  const memory = new Resizable(size, { maxByteLength: size });
  aligned.add(memory);
  return Buffer.from(memory);
}

/** True when `data` may be read or written directly: from `alignedBuffer`, aligned offset and length. */
export function isDirectCapable(data: Buffer): boolean {
  return aligned.has(data.buffer) && data.byteOffset % DIRECT_ALIGNMENT === 0 && data.length % DIRECT_ALIGNMENT === 0;
}

/** A second, direct handle on `path`, or undefined where the platform or filesystem has none. */
export async function openDirect(path: string): Promise<FileHandle | undefined> {
  const direct = (constants as Record<string, number | undefined>)['O_DIRECT'];
  if (direct === undefined) return undefined;
  try {
    return await open(path, constants.O_RDWR | direct);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EINVAL') return undefined;
    throw error;
  }
}

/** An error meaning "not this way": the request did not suit direct I/O, retry it buffered. */
export function isDirectRefusal(error: unknown): boolean {
  return (error as NodeJS.ErrnoException)?.code === 'EINVAL';
}
