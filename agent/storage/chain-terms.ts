// The folded block terms of a committed date's chain — per block index, SHA-256(full bitmap ‖
// the block as the chain reads it), the terms of its chain digest (docs/remote-format.md §6) —
// kept in memory by the storage agent for the newest dates it committed, so the next date's
// commit digests only the blocks its own file holds: every other block's term is the parent
// date's (a date's content never changes; merges keep it). Without this, a commit reads and
// hashes every partly marked block of the whole chain — after one sparse delta touching every
// 2 MiB block, each later commit would read the whole disk until a merge folds it.
//
// A cache: a miss (agent restarted, entry evicted, the parent file replaced) computes the digest
// from the chain as before. An entry names its file by path and by inode, size and mtime, so a
// file discarded and uploaded again under the same name is never taken for the one cached.
// Memory: 36 bytes per block (4 GiB disk: 72 KiB; 2 TiB: 36 MiB), at most `maxBytes` in all.
import type { Stats } from 'node:fs';

export const TERM_BYTES = 36;

export interface ChainTerms {
  /** Entries of index (uint32 BE) and term (32 bytes), ascending by index. */
  terms: Buffer;
}

interface Entry extends ChainTerms {
  identity: string;
}

export class ChainTermCache {
  readonly #entries = new Map<string, Entry>();
  #bytes = 0;

  constructor(readonly maxBytes = 64 * 1024 * 1024) {}

  get(path: string, file: Stats): ChainTerms | undefined {
    const entry = this.#entries.get(path);
    if (entry === undefined || entry.identity !== identityOf(file)) return undefined;
    // Most recently used last.
    this.#entries.delete(path);
    this.#entries.set(path, entry);
    return entry;
  }

  set(path: string, file: Stats, terms: Buffer): void {
    this.delete(path);
    if (terms.length > this.maxBytes / 2) return;
    this.#entries.set(path, { identity: identityOf(file), terms });
    this.#bytes += terms.length;
    for (const [oldest, entry] of this.#entries) {
      if (this.#bytes <= this.maxBytes) break;
      this.#entries.delete(oldest);
      this.#bytes -= entry.terms.length;
    }
  }

  delete(path: string): void {
    const entry = this.#entries.get(path);
    if (entry === undefined) return;
    this.#entries.delete(path);
    this.#bytes -= entry.terms.length;
  }

  get size(): number {
    return this.#entries.size;
  }
}

function identityOf(file: Stats): string {
  return `${file.dev}:${file.ino}:${file.size}:${file.mtimeMs}`;
}

/** Collects terms in ascending index order into one buffer. */
export class TermWriter {
  #buffer = Buffer.alloc(64 * TERM_BYTES);
  #length = 0;

  add(index: number, term: Uint8Array): void {
    if (this.#length + TERM_BYTES > this.#buffer.length) {
      const grown = Buffer.alloc(this.#buffer.length * 2);
      this.#buffer.copy(grown, 0, 0, this.#length);
      this.#buffer = grown;
    }
    this.#buffer.writeUInt32BE(index, this.#length);
    this.#buffer.set(term, this.#length + 4);
    this.#length += TERM_BYTES;
  }

  /** A copy of exactly the terms added. */
  finish(): Buffer {
    return Buffer.from(this.#buffer.subarray(0, this.#length));
  }
}
