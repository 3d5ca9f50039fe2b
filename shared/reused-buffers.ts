// Buffers reused across the blocks of one stream, so a block's bytes land in memory the process
// already holds instead of a fresh 2 MiB allocation per block (page faults, zeroing by the kernel,
// garbage collection: docs/performance-notes.md). `take` one (a free one at least as large, or a
// new one), hand it to whatever sends it, and `give` it back once the transport is done with it
// (for gRPC: in the write's callback, after the message was serialized). Never waits; at most
// `keep` given back are kept, and as many exist as were in use at once. With a `release`, buffers
// past `keep`, those kept when the set is closed and those given back after go to it (a pool that
// outlives the stream); without, they are left to the collector.
export class ReusedBuffers {
  readonly #keep: number;
  readonly #free: Buffer[] = [];
  /** Each buffer made, by the memory it views. */
  readonly #made = new WeakMap<ArrayBufferLike, Buffer>();
  readonly #make: (size: number) => Buffer;
  readonly #release: ((buffer: Buffer) => void) | undefined;
  #closed = false;

  /** `make` gives a new buffer of `size` bytes (default `Buffer.allocUnsafeSlow`; e.g. aligned ones for direct reads). */
  constructor(keep = Number.POSITIVE_INFINITY, make: (size: number) => Buffer = (size) => Buffer.allocUnsafeSlow(size), release?: (buffer: Buffer) => void) {
    this.#keep = keep;
    this.#make = make;
    this.#release = release;
  }

  take(size: number): Buffer {
    const at = this.#free.findIndex((b) => b.length >= size);
    if (at >= 0) return this.#free.splice(at, 1)[0]!;
    const made = this.#make(size);
    this.#made.set(made.buffer, made);
    return made;
  }

  /** True when `chunk` starts a buffer this set made (then `give` it back when done with it). */
  owns(chunk: Buffer): boolean {
    return this.#made.has(chunk.buffer) && chunk.byteOffset === 0;
  }

  /** The buffer this set made that `view` is part of, wherever in it `view` starts; undefined for memory made elsewhere. */
  holder(view: Uint8Array): Buffer | undefined {
    const made = this.#made.get(view.buffer);
    return made !== undefined && view.byteOffset >= made.byteOffset && view.byteOffset + view.length <= made.byteOffset + made.length ? made : undefined;
  }

  give(buffer: Buffer): void {
    if (!this.owns(buffer) || this.#free.includes(buffer)) return;
    if (!this.#closed && this.#free.length < this.#keep) this.#free.push(buffer);
    else this.#hand(buffer);
  }

  /** The stream is done: kept buffers, and any given back from now on, go to `release`. */
  close(): void {
    this.#closed = true;
    for (const buffer of this.#free.splice(0)) this.#hand(buffer);
  }

  /** No longer this set's: to `release`, and never again from here. */
  #hand(buffer: Buffer): void {
    this.#made.delete(buffer.buffer);
    this.#release?.(buffer);
  }
}
