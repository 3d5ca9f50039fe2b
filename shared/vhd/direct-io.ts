// Reads that bypass the page cache (O_DIRECT), for a chain read once and cold: a restore. On this
// project's test VMs a buffered read of data not in the page cache costs the kernel ~1 CPU s per
// GiB (allocating, filling and later evicting its pages), a direct read ~0.04
// (docs/performance-notes.md, "Restore: the chain read past the page cache").
//
// The kernel takes a direct read only into memory aligned to the device's DMA alignment (512 bytes
// on virtio disks) at a file offset and of a length aligned to its logical block size. Node's
// Buffers are aligned to 16 bytes at best and give no way to ask for more, but a WebAssembly
// memory's bytes start on a page boundary: `alignedBuffer` makes its buffers from one, and only
// those, at sector-aligned views, are read directly (`canReadDirect`). Everything else (metadata,
// a caller's own buffer) is read through the page cache as before.
import { open, type FileHandle } from 'node:fs/promises';
import { constants } from 'node:fs';
import { SECTOR_SIZE } from './format/index.js';

/** Bytes of one WebAssembly memory page. */
const WASM_PAGE = 65536;

const aligned = new WeakSet<ArrayBufferLike>();

/**
 * `size` bytes starting on a page boundary, which a direct read can fill. V8 reserves ~10 GiB of
 * address space around each WebAssembly memory (address space, not memory: RSS counts the pages
 * used); where it cannot (a process limited by `ulimit -v`) this gives an ordinary buffer, which
 * is read through the page cache.
 */
export function alignedBuffer(size: number): Buffer {
  const pages = Math.max(1, Math.ceil(size / WASM_PAGE));
  let memory: WebAssembly.Memory;
  try {
    memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
  } catch (error) {
    if (error instanceof RangeError) return Buffer.allocUnsafeSlow(size);
    throw error;
  }
  aligned.add(memory.buffer);
  return Buffer.from(memory.buffer, 0, size);
}

/** True when `buf` may take a direct read at file `offset`: an `alignedBuffer` view, sector-aligned in memory, offset and length. */
export function canReadDirect(buf: Buffer, offset: number): boolean {
  return aligned.has(buf.buffer) && buf.byteOffset % SECTOR_SIZE === 0 && buf.length % SECTOR_SIZE === 0 && offset % SECTOR_SIZE === 0;
}

/**
 * A second, read-only handle on `path` that reads past the page cache, or undefined where the file
 * system does not offer it (tmpfs, some FUSE and network file systems refuse O_DIRECT at open).
 */
export async function openDirect(path: string): Promise<FileHandle | undefined> {
  if (constants.O_DIRECT === undefined) return undefined;
  try {
    return await open(path, constants.O_RDONLY | constants.O_DIRECT);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EINVAL') return undefined;
    throw error;
  }
}

/** True for the error a direct read gives when the device wants more alignment than a sector (4 KiB logical blocks). */
export function isAlignmentRefusal(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'EINVAL';
}

/**
 * `alignedBuffer`s kept for the next stream. Each WebAssembly memory is freed only when the
 * collector finds it unreferenced, which an agent idle between two restores does not run: a
 * restore that made its own buffers found the last one's still resident and held both. Buffers
 * given back here are handed out again instead (views of the same memory), at most `maxIdle`
 * kept; more are left to the collector. Give back only memory nothing reads or writes any more.
 */
export class AlignedBufferPool {
  readonly #idle: Buffer[] = [];
  readonly #made = new WeakSet<ArrayBufferLike>();

  constructor(readonly maxIdle: number) {
    if (!Number.isInteger(maxIdle) || maxIdle < 0) throw new RangeError(`maxIdle ${maxIdle} is not a whole number ≥ 0`);
  }

  /** Buffers given back and not taken again. */
  get idle(): number {
    return this.#idle.length;
  }

  /** `size` bytes: a kept buffer's memory when one is large enough, else a new `alignedBuffer`. */
  take(size: number): Buffer {
    const at = this.#idle.findIndex((b) => b.buffer.byteLength >= size);
    if (at >= 0) return Buffer.from(this.#idle.splice(at, 1)[0]!.buffer, 0, size);
    const made = alignedBuffer(size);
    this.#made.add(made.buffer);
    return made;
  }

  /** Keeps `buffer`'s memory for a later `take` (buffers this pool did not make are ignored). */
  give(buffer: Buffer): void {
    if (!this.#made.has(buffer.buffer) || this.#idle.length >= this.maxIdle || this.#idle.some((b) => b.buffer === buffer.buffer)) return;
    this.#idle.push(buffer);
  }
}
