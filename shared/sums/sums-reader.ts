// Reads a `.sums` file (sums-format.ts) as a stream of entries, a chunk at a time, so the
// checksums of a 2 TiB disk (a million entries) are never held in memory at once. The file stays
// open: a reader opened before a merge renames another table over its path keeps reading the
// table it opened. `entries()` can be run any number of times; each run checks the ascending
// order and, when it reaches the end, the trailing hash. `SumsCursor` looks entries up in
// ascending index order over one such run.
import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { CHECKSUM_SIZE } from '../grpc/disk-checksum.js';
import { SUMS_HEADER_SIZE, SumsFormatError, decodeSumsEntry, decodeSumsHeader, sumsEntrySize, type SumsEntry, type SumsHeader } from './sums-format.js';

/** Entries read per chunk. */
const CHUNK_ENTRIES = 4096;

export class SumsReader {
  readonly path: string;
  readonly header: SumsHeader;
  readonly #handle: FileHandle;
  readonly #head: Buffer;
  #closed = false;

  private constructor(path: string, handle: FileHandle, head: Buffer, header: SumsHeader) {
    this.path = path;
    this.#handle = handle;
    this.#head = head;
    this.header = header;
  }

  /** Opens the file and checks its header against its length. `where` names it in errors. */
  static async open(path: string, where = path): Promise<SumsReader> {
    const handle = await open(path, 'r');
    try {
      const { size } = await handle.stat();
      const head = Buffer.alloc(SUMS_HEADER_SIZE);
      await handle.read(head, 0, SUMS_HEADER_SIZE, 0);
      return new SumsReader(where, handle, head, decodeSumsHeader(head, size, where));
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  get blockSize(): number {
    return this.header.blockSize;
  }

  /** Every entry, ascending; throws SumsFormatError on disorder or, at the end, a bad trailing hash. */
  async *entries(): AsyncGenerator<SumsEntry> {
    const { version, count } = this.header;
    const size = sumsEntrySize(version);
    const hash = createHash('sha256').update(this.#head);
    let last = -1;
    for (let done = 0; done < count; ) {
      const n = Math.min(CHUNK_ENTRIES, count - done);
      // A fresh buffer per chunk: entries handed out are views into it.
      const chunk = await this.#read(SUMS_HEADER_SIZE + done * size, n * size);
      hash.update(chunk);
      for (let at = 0; at < chunk.length; at += size) {
        const entry = decodeSumsEntry(chunk, at, version, this.path);
        if (entry.index <= last) throw new SumsFormatError(this.path, `entry for block ${entry.index} after block ${last}: not ascending`);
        last = entry.index;
        yield entry;
      }
      done += n;
    }
    const trailing = await this.#read(SUMS_HEADER_SIZE + count * size, CHECKSUM_SIZE);
    if (!hash.digest().equals(trailing)) throw new SumsFormatError(this.path, 'trailing hash mismatch');
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#handle.close();
  }

  async #read(position: number, length: number): Promise<Buffer> {
    const buf = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.#handle.read(buf, done, length - done, position + done);
      if (bytesRead === 0) throw new SumsFormatError(this.path, `file ends at byte ${position + done}`);
      done += bytesRead;
    }
    return buf;
  }
}

/** Entries a cursor keeps behind its position. */
const RECENT_ENTRIES = 16;

/**
 * Finds entries by index over one run of `reader.entries()`. Lookups are expected in ascending
 * order (how chains are read), give or take a few blocks read at once; a lookup further below the
 * previous one starts a new run from the top.
 */
export class SumsCursor {
  readonly #reader: SumsReader;
  #run: AsyncGenerator<SumsEntry> | undefined;
  #current: SumsEntry | undefined;
  #ended = false;
  #previous = -1;
  /** The entries the run passed most recently (ascending), and the index from which it saw every entry. */
  readonly #recent: SumsEntry[] = [];
  #recentFrom = 0;
  /** Lookups run one after another: callers may overlap them (reads of a few blocks in flight). */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(reader: SumsReader) {
    this.#reader = reader;
  }

  /**
   * The entry of block `index`, or undefined when the file has none. A lookup a little behind
   * the last one (a block read while the next was already looked up) is served from the last
   * entries passed; further behind, the table is read again from its start.
   */
  find(index: number): Promise<SumsEntry | undefined> {
    const result = this.#queue.then(() => this.#find(index));
    this.#queue = result.catch(() => undefined);
    return result;
  }

  async #find(index: number): Promise<SumsEntry | undefined> {
    if (this.#run && index < this.#previous && index >= this.#recentFrom) return this.#recent.find((e) => e.index === index);
    if (!this.#run || index < this.#previous) this.#restart();
    this.#previous = index;
    while (!this.#ended && (this.#current === undefined || this.#current.index < index)) {
      const next = await this.#run!.next();
      if (next.done) this.#ended = true;
      else {
        this.#current = next.value;
        this.#remember(next.value);
      }
    }
    return this.#current?.index === index ? this.#current : undefined;
  }

  #remember(entry: SumsEntry): void {
    this.#recent.push(entry);
    if (this.#recent.length > RECENT_ENTRIES) this.#recentFrom = this.#recent.shift()!.index + 1;
  }

  #restart(): void {
    void this.#run?.return(undefined);
    this.#run = this.#reader.entries();
    this.#current = undefined;
    this.#ended = false;
    this.#recent.length = 0;
    this.#recentFrom = 0;
  }
}
