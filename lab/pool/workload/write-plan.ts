// Plans the writes a guest would make, as a pure function of (pattern, disk size, percent,
// seed): `clustered` rewrites whole 2 MiB-aligned runs (databases, big files), `clustered-64k`
// whole 64 KiB-aligned runs (file-sized updates), `scattered` random 4 KiB pages (metadata, logs),
// `sequential` one contiguous region.
// Extents come out sorted and disjoint, so a copy-on-write writer touches each block once.
import { SeededRandom } from './seeded-random.js';

export type WritePattern = 'clustered' | 'clustered-64k' | 'scattered' | 'sequential';
export const WRITE_PATTERNS: readonly WritePattern[] = ['clustered', 'clustered-64k', 'scattered', 'sequential'];

export const CLUSTER_SIZE = 2 * 1024 * 1024;
export const SMALL_CLUSTER_SIZE = 64 * 1024;
export const PAGE_SIZE = 4096;

export interface Extent {
  /** Bytes. */
  offset: number;
  /** Bytes. */
  length: number;
}

export interface WritePlanOptions {
  pattern: WritePattern;
  /** Bytes. */
  virtualSize: number;
  /** Share of the disk to rewrite, 0 < percent ≤ 100. */
  percent: number;
  seed: number;
}

export function planWrites(options: WritePlanOptions): Extent[] {
  const { pattern, virtualSize, percent, seed } = options;
  if (!(percent > 0 && percent <= 100)) throw new RangeError(`percent must be in (0, 100], got ${percent}`);
  const random = new SeededRandom(seed);
  const target = (virtualSize * percent) / 100;
  switch (pattern) {
    case 'clustered':
      return units(random, virtualSize, CLUSTER_SIZE, target);
    case 'clustered-64k':
      return units(random, virtualSize, SMALL_CLUSTER_SIZE, target);
    case 'scattered':
      return units(random, virtualSize, PAGE_SIZE, target);
    case 'sequential': {
      const pages = Math.ceil(virtualSize / PAGE_SIZE);
      const length = Math.min(Math.max(1, Math.round(target / PAGE_SIZE)), pages);
      const start = random.below(pages - length + 1) * PAGE_SIZE;
      return [{ offset: start, length: Math.min(length * PAGE_SIZE, virtualSize - start) }];
    }
  }
}

/** Distinct `unit`-aligned extents covering about `target` bytes. */
function units(random: SeededRandom, virtualSize: number, unit: number, target: number): Extent[] {
  const total = Math.ceil(virtualSize / unit);
  const count = Math.min(total, Math.max(1, Math.round(target / unit)));
  return random.distinct(count, total).map((i) => ({
    offset: i * unit,
    length: Math.min(unit, virtualSize - i * unit),
  }));
}

export function totalBytes(extents: Extent[]): number {
  return extents.reduce((sum, e) => sum + e.length, 0);
}
