// The checksum tables of a chain overlaid, newest file first: for every block index present in
// any table, ascending, the entry of the newest file that has it (the file a chain reader takes
// the block from). A k-way merge of the tables' ascending streams: memory is one entry per file,
// whatever the disk's size.
import type { SumsEntry } from '../../shared/sums/index.js';

export interface OverlaidEntry {
  /** The winning file's position in the chain (0 = newest). */
  layer: number;
  entry: SumsEntry;
}

/** `tables` in chain order (newest first), each ascending by index. */
export async function* overlaySums(tables: AsyncIterable<SumsEntry>[]): AsyncGenerator<OverlaidEntry> {
  const runs = tables.map((t) => t[Symbol.asyncIterator]());
  const heads: (SumsEntry | undefined)[] = await Promise.all(runs.map(async (r) => (await r.next()).value ?? undefined));
  try {
    for (;;) {
      let winner = -1;
      for (let layer = 0; layer < heads.length; layer++) {
        const head = heads[layer];
        if (head && (winner < 0 || head.index < heads[winner]!.index)) winner = layer;
      }
      if (winner < 0) return;
      const entry = heads[winner]!;
      yield { layer: winner, entry };
      for (let layer = winner; layer < heads.length; layer++) {
        if (heads[layer]?.index === entry.index) heads[layer] = (await runs[layer]!.next()).value ?? undefined;
      }
    }
  } finally {
    await Promise.all(runs.map((r) => r.return?.(undefined)));
  }
}
