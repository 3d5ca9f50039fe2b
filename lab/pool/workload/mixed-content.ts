// The `mixed` content kind: a disk that looks like a real one to deduplication and compression.
// Each 64 KiB region is, by a hash of (seed, region index), random (~40 %: the same AES-CTR
// keystream as the `random` kind), text-like (~35 %: text-pages.ts, gzip ≈ 3–4×) or zeros
// (~25 %). Like the keystream, the bytes at an offset depend only on the seed and the offset, so
// any range is computed without generating what precedes it.
import { createHash } from 'node:crypto';
import { patternContent, patternKey } from './pattern-content.js';
import { TEXT_PAGE_SIZE, fillTextPage, mix } from './text-pages.js';

export const REGION_SIZE = 64 * 1024;
const AES_BLOCK = 16;

export type RegionKind = 'random' | 'text' | 'zeros';

/** Share of regions of each kind (cumulative thresholds on a uniform hash). */
const RANDOM_BELOW = 0.4;
const TEXT_BELOW = 0.75;

export class MixedContent {
  private readonly key: Buffer;
  private readonly textSeed: number;
  private readonly page = new Uint8Array(TEXT_PAGE_SIZE);

  constructor(seed: number) {
    this.key = patternKey(seed);
    this.textSeed = createHash('sha256').update(`deltachain-lab-mixed:${seed}`).digest().readUInt32BE(0);
  }

  regionKind(region: number): RegionKind {
    const u = mix(this.textSeed, region) / 2 ** 32;
    return u < RANDOM_BELOW ? 'random' : u < TEXT_BELOW ? 'text' : 'zeros';
  }

  /** `length` bytes of content at `offset` (any offset). */
  bytes(offset: number, length: number): Buffer {
    const out = Buffer.alloc(length);
    const end = offset + length;
    for (let region = Math.floor(offset / REGION_SIZE); region * REGION_SIZE < end; region++) {
      const from = Math.max(offset, region * REGION_SIZE);
      const to = Math.min(end, (region + 1) * REGION_SIZE);
      const kind = this.regionKind(region);
      if (kind === 'random') this.random(out, offset, from, to);
      else if (kind === 'text') this.text(out, offset, from, to);
    }
    return out;
  }

  /** Copies the keystream for [from, to) into `out` (which starts at disk offset `base`). */
  private random(out: Buffer, base: number, from: number, to: number): void {
    const start = from - (from % AES_BLOCK);
    const stream = patternContent(this.key, start, to - start);
    stream.copy(out, from - base, from - start);
  }

  private text(out: Buffer, base: number, from: number, to: number): void {
    for (let page = Math.floor(from / TEXT_PAGE_SIZE); page * TEXT_PAGE_SIZE < to; page++) {
      const pageStart = page * TEXT_PAGE_SIZE;
      const a = Math.max(from, pageStart);
      const b = Math.min(to, pageStart + TEXT_PAGE_SIZE);
      if (a === pageStart && b === pageStart + TEXT_PAGE_SIZE) {
        fillTextPage(this.textSeed, page, out.subarray(a - base, b - base));
      } else {
        fillTextPage(this.textSeed, page, this.page);
        out.set(this.page.subarray(a - pageStart, b - pageStart), a - base);
      }
    }
  }
}
