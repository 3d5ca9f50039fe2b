// A small deterministic PRNG (mulberry32) for planning writes: same seed, same plan. Not for
// content (see pattern-content.ts) and not for anything secret.
export class SeededRandom {
  private state: number;

  constructor(seed: number) {
    this.state = (Math.trunc(seed) ^ 0x9e3779b9) >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** `count` distinct integers of [0, n), ascending. */
  distinct(count: number, n: number): number[] {
    const k = Math.min(count, n);
    if (k * 2 <= n) {
      const picked = new Set<number>();
      while (picked.size < k) picked.add(this.below(n));
      return [...picked].sort((a, b) => a - b);
    }
    // Dense: choose which ones to leave out.
    const skipped = new Set(this.distinct(n - k, n));
    const out: number[] = [];
    for (let i = 0; i < n; i++) if (!skipped.has(i)) out.push(i);
    return out;
  }
}
