// Part of the data-plane contract (proto/deltachain/storage/v1/disk.proto): both ends compute these.
// Block checksums and the disk digest (docs/remote-format.md §6). SHA-256 from node:crypto: on
// CPUs with SHA extensions it runs at > 1 GiB/s per core, faster than md5 or blake2 there.
//   block checksum = SHA-256(bitmap ‖ data)
//   disk digest    = SHA-256(for each block, ascending index: uint32be(index) ‖ block checksum)
import { createHash, type Hash } from 'node:crypto';

export const CHECKSUM_SIZE = 32;

export function blockChecksum(bitmap: Uint8Array, data: Uint8Array): Buffer {
  return createHash('sha256').update(bitmap).update(data).digest();
}

/** Accumulates the disk digest; blocks must be added in strictly ascending index order. */
export class DiskDigest {
  #hash: Hash = createHash('sha256');
  #last = -1;
  #count = 0;
  readonly #index = Buffer.alloc(4);

  add(index: number, checksum: Uint8Array): void {
    if (index <= this.#last) throw new RangeError(`block ${index} after block ${this.#last}: indexes must ascend`);
    this.#last = index;
    this.#count++;
    this.#index.writeUInt32BE(index, 0);
    this.#hash.update(this.#index).update(checksum);
  }

  get count(): number {
    return this.#count;
  }

  digest(): Buffer {
    return this.#hash.digest();
  }
}

export function digestHex(digest: Uint8Array): string {
  return `sha256:${Buffer.from(digest).toString('hex')}`;
}
