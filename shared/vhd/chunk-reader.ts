// Reads exact byte counts from an async (or sync) iterable of chunks. The reader holds one chunk
// at a time — the one it is consuming — and never joins chunks into a list: a `read` that fits in
// that chunk returns a view of it (no copy); one that spans chunks copies each piece straight
// into its destination as the chunks arrive — a fresh buffer, or the caller's (`readInto`,
// `copyInto`: the stream parser recycles its block buffer). `skip` moves past bytes without
// copying them. As the reader keeps no chunk once it pulls the next, an input may recycle a
// chunk's memory as soon as it is asked for the next one, provided the caller keeps no view.
// So the hot path allocates nothing per chunk: no arrays, no closures, one iterator step. The
// reader tracks the absolute stream position for error messages; a stream that ends early is a
// VhdFormatError naming what was being read and where.
import { VhdFormatError } from './format/index.js';

const EMPTY = Buffer.alloc(0);

export class ChunkReader {
  /** Absolute offset of the next unread byte. */
  position = 0;
  readonly #iterator: AsyncIterator<Buffer | Uint8Array>;
  /** The chunk being consumed; bytes before `#offset` are consumed. */
  #chunk: Buffer = EMPTY;
  #offset = 0;
  #ended = false;

  constructor(input: AsyncIterable<Buffer | Uint8Array> | Iterable<Buffer | Uint8Array>) {
    this.#iterator = Symbol.asyncIterator in input ? input[Symbol.asyncIterator]() : fromSync(input[Symbol.iterator]());
  }

  /**
   * Exactly `n` bytes; `where` names them if the stream ends first. A view of the input chunk when
   * one chunk holds them all (valid as long as the input leaves that chunk alone), else a new buffer.
   */
  async read(n: number, where: string): Promise<Buffer> {
    if (n === 0) return EMPTY;
    if (this.#offset === this.#chunk.length && !(await this.#pull())) throw this.#truncated(where, n);
    const view = this.#view(n);
    if (view) return view;
    const out = Buffer.allocUnsafe(n);
    await this.#fill(out, where);
    return out;
  }

  /**
   * Exactly `target.length` bytes: a view of the input chunk when one chunk holds them all,
   * otherwise copied into `target`, which is then returned. Either way no buffer memory is allocated.
   */
  async readInto(target: Buffer, where: string): Promise<Buffer> {
    if (target.length === 0) return target;
    if (this.#offset === this.#chunk.length && !(await this.#pull())) throw this.#truncated(where, target.length);
    const view = this.#view(target.length);
    if (view) return view;
    await this.#fill(target, where);
    return target;
  }

  /** Copies exactly `target.length` bytes into `target` (no view: the input may then recycle its chunks). */
  async copyInto(target: Buffer, where: string): Promise<void> {
    await this.#fill(target, where);
  }

  /** Discards `n` bytes without copying them. */
  async skip(n: number, where: string): Promise<void> {
    let left = n;
    while (left > 0) {
      if (this.#offset === this.#chunk.length && !(await this.#pull())) throw this.#truncated(where, left);
      const take = Math.min(this.#chunk.length - this.#offset, left);
      this.#offset += take;
      this.position += take;
      left -= take;
    }
  }

  /**
   * Reads to the end of the stream and returns its last `keep` bytes (a new buffer). More than
   * `max` bytes left is an error (an endless stream must not hang the reader), as is fewer than `keep`.
   */
  async readTail(keep: number, max: number, where: string): Promise<Buffer> {
    const start = this.position;
    const tail = Buffer.alloc(keep);
    let have = 0;
    do {
      const rest = this.#chunk.length - this.#offset;
      if (this.position + rest - start > max) {
        throw new VhdFormatError(where, `more than ${max} bytes follow byte ${start}; expected the end of the stream`);
      }
      have = keepLast(tail, have, this.#chunk, this.#offset);
      this.#offset += rest;
      this.position += rest;
    } while (await this.#pull());
    if (have < keep) throw this.#truncated(where, keep - have);
    return tail;
  }

  /** Releases the source (stops a Readable); safe to call more than once. */
  async close(): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    this.#chunk = EMPTY;
    this.#offset = 0;
    await this.#iterator.return?.();
  }

  /** `n` bytes as a view of the current chunk, when it holds them all. */
  #view(n: number): Buffer | undefined {
    const start = this.#offset;
    if (this.#chunk.length - start < n) return undefined;
    this.#offset = start + n;
    this.position += n;
    return this.#chunk.subarray(start, start + n);
  }

  /** Copies the next `out.length` bytes into `out`, pulling chunks as needed. */
  async #fill(out: Buffer, where: string): Promise<void> {
    const n = out.length;
    let done = 0;
    while (done < n) {
      if (this.#offset === this.#chunk.length && !(await this.#pull())) throw this.#truncated(where, n - done);
      const chunk = this.#chunk;
      const take = Math.min(chunk.length - this.#offset, n - done);
      chunk.copy(out, done, this.#offset, this.#offset + take);
      this.#offset += take;
      this.position += take;
      done += take;
    }
  }

  /** Makes the next non-empty chunk current (the current one must be consumed); false at the end. */
  async #pull(): Promise<boolean> {
    for (;;) {
      if (this.#ended) return false;
      const next = await this.#iterator.next();
      if (next.done) {
        this.#ended = true;
        this.#chunk = EMPTY;
        this.#offset = 0;
        return false;
      }
      const value: unknown = next.value;
      if (!(value instanceof Uint8Array)) throw new TypeError(`VHD stream chunks must be bytes, got ${typeof value}`);
      if (value.length === 0) continue;
      this.#chunk = Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
      this.#offset = 0;
      return true;
    }
  }

  /** `wanted` more bytes were needed when the stream ended (everything before was consumed). */
  #truncated(where: string, wanted: number): VhdFormatError {
    return new VhdFormatError(where, `stream ends at byte ${this.position}, ${wanted} bytes short`);
  }
}

/**
 * Slides the window `tail` (its last `have` bytes are the newest seen) over `chunk[from..]`;
 * returns how many bytes of the window are now filled.
 */
function keepLast(tail: Buffer, have: number, chunk: Buffer, from: number): number {
  const keep = tail.length;
  const added = chunk.length - from;
  if (added >= keep) {
    chunk.copy(tail, 0, chunk.length - keep);
    return keep;
  }
  const filled = Math.min(keep, have + added);
  const kept = filled - added;
  tail.copyWithin(keep - filled, keep - kept, keep);
  chunk.copy(tail, keep - added, from);
  return filled;
}

/** An async view of a sync iterator (arrays of chunks in tests and fixtures). */
function fromSync<T>(iterator: Iterator<T>): AsyncIterator<T> {
  return {
    next: async () => iterator.next(),
    return: async () => iterator.return?.() ?? { done: true, value: undefined },
  };
}
