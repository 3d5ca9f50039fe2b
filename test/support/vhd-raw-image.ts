// Raw disk images for VHD tests and benchmarks: deterministic pseudo-random content (AES-CTR
// keystream from a seed, so a failing test can be replayed) laid out block by block as a mix of
// holes, fully random blocks and blocks with zero runs inside. Written with positioned writes and
// a final truncate, so holes stay sparse and nothing is held in memory beyond one block.
import { createCipheriv, createHash } from 'node:crypto';
import { open } from 'node:fs/promises';

export const MiB = 1024 * 1024;

/** A deterministic byte source: `bytes(n)` returns the next n pseudo-random bytes. */
export class SeededBytes {
  private readonly cipher;
  private state: number;

  constructor(seed: number | string) {
    const key = createHash('sha256').update(`deltachain-test:${seed}`).digest();
    this.cipher = createCipheriv('aes-128-ctr', key.subarray(0, 16), key.subarray(16, 32));
    this.state = key.readUInt32BE(0) || 1;
  }

  bytes(length: number): Buffer {
    return this.cipher.update(Buffer.alloc(length));
  }

  /** A uniform integer in [0, n) (xorshift32; good enough to choose layouts). */
  int(n: number): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state % n;
  }
}

export interface RawImageOptions {
  /** Bytes. */
  size: number;
  seed: number | string;
  /** Granularity of the layout choices; defaults to 2 MiB (the VHD block size). */
  blockSize?: number;
  /** Share of blocks left as holes (0..1); default 0.3. */
  holeShare?: number;
  /** Share of blocks with zero runs inside (0..1); default 0.3. */
  runShare?: number;
}

/** Writes a new raw image at `path`; returns nothing, the content is a function of the options. */
export async function writeRawImage(path: string, options: RawImageOptions): Promise<void> {
  const blockSize = options.blockSize ?? 2 * MiB;
  const random = new SeededBytes(options.seed);
  const holes = Math.round((options.holeShare ?? 0.3) * 1000);
  const runs = Math.round((options.runShare ?? 0.3) * 1000);
  const file = await open(path, 'w');
  try {
    for (let offset = 0; offset < options.size; offset += blockSize) {
      const length = Math.min(blockSize, options.size - offset);
      const pick = random.int(1000);
      if (pick < holes) continue;
      const data = random.bytes(length);
      if (pick < holes + runs) punchZeroRuns(data, random);
      await file.write(data, 0, length, offset);
    }
    await file.truncate(options.size);
  } finally {
    await file.close();
  }
}

/** Zeroes a few runs inside `data`, some sector-aligned, some not. */
export function punchZeroRuns(data: Buffer, random: SeededBytes): void {
  const count = 1 + random.int(4);
  for (let i = 0; i < count; i++) {
    const start = random.int(data.length);
    const length = 1 + random.int(Math.max(1, data.length >> 2));
    data.fill(0, start, Math.min(data.length, start + length));
  }
}

export interface MutationOptions {
  seed: number | string;
  /** Number of changes; each is one of: a whole block rewritten, a block zeroed, 4 KiB pages rewritten. */
  changes: number;
  blockSize?: number;
  /** Rewrites only whole 4 KiB pages (never a partial page): what libvhdi reads correctly. */
  pagesOnly?: boolean;
}

/**
 * Changes an existing raw image in place, the way a guest would between two backups: rewrites
 * some blocks, zeroes some, and scatters small page writes. Returns the changed byte ranges.
 */
export async function mutateRawImage(path: string, options: MutationOptions): Promise<Array<[number, number]>> {
  const blockSize = options.blockSize ?? 2 * MiB;
  const random = new SeededBytes(`mutate:${options.seed}`);
  const changed: Array<[number, number]> = [];
  const file = await open(path, 'r+');
  try {
    const { size } = await file.stat();
    const blocks = Math.ceil(size / blockSize);
    for (let i = 0; i < options.changes; i++) {
      const block = random.int(blocks);
      const blockStart = block * blockSize;
      const blockLength = Math.min(blockSize, size - blockStart);
      const kind = options.pagesOnly ? 2 : random.int(3);
      let start = blockStart;
      let data: Buffer;
      if (kind === 0) data = random.bytes(blockLength);
      else if (kind === 1) data = Buffer.alloc(blockLength);
      else {
        const pages = Math.floor(blockLength / 4096);
        if (pages === 0) continue;
        const first = random.int(pages);
        const count = 1 + random.int(Math.min(8, pages - first));
        start = blockStart + first * 4096;
        data = random.bytes(count * 4096);
      }
      await file.write(data, 0, data.length, start);
      changed.push([start, start + data.length]);
    }
  } finally {
    await file.close();
  }
  return changed;
}
