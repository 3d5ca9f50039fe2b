// Reads exact byte counts from an async iterable of chunks, without quadratic copying: chunks are
// kept in a list and only copied once, into the buffer a `read` returns (or not at all when one
// chunk holds the whole range). `skip` drops whole chunks without copying them. The reader tracks
// the absolute stream position for error messages; a stream that ends early is a VhdFormatError
// naming what was being read and where.
import { VhdFormatError } from './format/index.js';

export class ChunkReader {
  /** Absolute offset of the next unread byte. */
  position = 0;
  readonly #iterator: AsyncIterator<Buffer | Uint8Array>;
  #chunks: Buffer[] = [];
  #head = 0;
  /** Bytes of chunks[head] already consumed. */
  #offset = 0;
  #buffered = 0;
  #ended = false;

  constructor(input: AsyncIterable<Buffer | Uint8Array> | Iterable<Buffer | Uint8Array>) {
    this.#iterator = Symbol.asyncIterator in input ? input[Symbol.asyncIterator]() : fromSync(input[Symbol.iterator]());
  }

  /** Exactly `n` bytes; `where` names them if the stream ends first. */
  async read(n: number, where: string): Promise<Buffer> {
    if (n === 0) return Buffer.alloc(0);
    while (this.#buffered < n) {
      if (!(await this.#pull())) throw this.#truncated(where, n);
    }
    const first = this.#chunks[this.#head]!;
    if (first.length - this.#offset >= n) {
      const out = first.subarray(this.#offset, this.#offset + n);
      this.#consume(n);
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let done = 0;
    while (done < n) {
      const chunk = this.#chunks[this.#head]!;
      const take = Math.min(chunk.length - this.#offset, n - done);
      chunk.copy(out, done, this.#offset, this.#offset + take);
      done += take;
      this.#consume(take);
    }
    return out;
  }

  /** Discards `n` bytes. */
  async skip(n: number, where: string): Promise<void> {
    let left = n;
    while (left > 0) {
      if (this.#buffered === 0 && !(await this.#pull())) throw this.#truncated(where, left);
      const chunk = this.#chunks[this.#head]!;
      const take = Math.min(chunk.length - this.#offset, left);
      this.#consume(take);
      left -= take;
    }
  }

  /**
   * Reads to the end of the stream and returns its last `keep` bytes. More than `max` bytes left
   * is an error (an endless stream must not hang the reader), as is fewer than `keep`.
   */
  async readTail(keep: number, max: number, where: string): Promise<Buffer> {
    const start = this.position;
    for (;;) {
      const length = this.position - start + this.#buffered;
      if (length > max) {
        throw new VhdFormatError(where, `more than ${max} bytes follow byte ${start}; expected the end of the stream`);
      }
      this.#dropAllBut(keep);
      if (!(await this.#pull())) break;
    }
    if (this.#buffered < keep) throw this.#truncated(where, keep);
    await this.skip(this.#buffered - keep, where);
    return this.read(keep, where);
  }

  /** Releases the source (stops a Readable); safe to call more than once. */
  async close(): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    this.#chunks = [];
    this.#buffered = 0;
    await this.#iterator.return?.();
  }

  /** Drops whole chunks while the rest still holds at least `keep` bytes. */
  #dropAllBut(keep: number): void {
    while (this.#buffered > keep) {
      const rest = this.#chunks[this.#head]!.length - this.#offset;
      if (this.#buffered - rest < keep) break;
      this.#consume(rest);
    }
  }

  async #pull(): Promise<boolean> {
    if (this.#ended) return false;
    const next = await this.#iterator.next();
    if (next.done) {
      this.#ended = true;
      return false;
    }
    const value: unknown = next.value;
    if (!(value instanceof Uint8Array)) throw new TypeError(`VHD stream chunks must be bytes, got ${typeof value}`);
    if (value.length === 0) return true;
    const chunk = Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    if (this.#head > 64) {
      this.#chunks = this.#chunks.slice(this.#head);
      this.#head = 0;
    }
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    return true;
  }

  #consume(n: number): void {
    this.#offset += n;
    this.#buffered -= n;
    this.position += n;
    const chunk = this.#chunks[this.#head];
    if (chunk && this.#offset === chunk.length) {
      this.#chunks[this.#head] = undefined as unknown as Buffer;
      this.#head++;
      this.#offset = 0;
    }
  }

  #truncated(where: string, wanted: number): VhdFormatError {
    const available = this.position + this.#buffered;
    return new VhdFormatError(where, `stream ends at byte ${available}, ${wanted - this.#buffered} bytes short`);
  }
}

/** An async view of a sync iterator (arrays of chunks in tests and fixtures). */
function fromSync<T>(iterator: Iterator<T>): AsyncIterator<T> {
  return {
    next: async () => iterator.next(),
    return: async () => iterator.return?.() ?? { done: true, value: undefined },
  };
}
