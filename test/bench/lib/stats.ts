// The suite's one way to summarise repeated measurements: median with min–max, and ratios of
// medians. Every figure the benchmarks print or chart goes through `figure`.

export interface Figure {
  median: number;
  min: number;
  max: number;
  /** Every run's value, in run order. */
  runs: number[];
}

export function figure(values: readonly number[]): Figure {
  if (values.length === 0) throw new RangeError('a figure needs at least one run');
  for (const v of values) if (!Number.isFinite(v)) throw new RangeError(`a run measured ${v}`);
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, runs: [...values] };
}

/** Runs `measure` `runs` times in sequence and returns every result. */
export async function repeat<T>(runs: number, measure: (run: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let run = 0; run < runs; run++) out.push(await measure(run));
  return out;
}

/** Figure of one numeric field over repeated results. */
export function figureOf<T>(results: readonly T[], pick: (r: T) => number): Figure {
  return figure(results.map(pick));
}
