// Checks every raw block a ChainReader reads against the `.sums` entry of the file it comes from
// (docs/remote-format.md §6, "Checked reads"). The tables were checked when the chain was opened
// (chain-sums.ts); here each one is walked with a cursor as blocks are read in ascending order,
// so nothing but a chunk of entries per file is held. A block without an entry or whose SHA-256
// differs fails the read with the error `onDamage` makes (it decides whether the data is damaged
// or a merge changed the files under the reader).
import { errorMessage } from '../../shared/errors.js';
import { SumsCursor, entryRuleChecksum, isAllOnes, type SumsEntry, type SumsReader } from '../../shared/sums/index.js';
import type { BlockCheck, VhdBlock } from '../../shared/vhd/index.js';
import type { ChecksumRule } from '../../shared/grpc/disk-checksum.js';

/** Builds the error for a block of `layer` that fails its check. */
export type DamageReporter = (layer: number, index: number, reason: string) => Promise<Error>;

/** Blocks whose newest layer's checksum is kept for fullBlockChecksum. */
const RECENT_BLOCKS = 16;

export class SumsBlockCheck implements BlockCheck {
  readonly #cursors: SumsCursor[];
  readonly #onDamage: DamageReporter;
  readonly #release: () => Promise<void>;
  /**
   * Per recently read block: the checksum of its newest layer when that layer's bitmap is all
   * ones, else undefined. The first check of a block is its newest layer's (the reader goes newest
   * first); a few blocks may be read at once, so more than one is kept.
   */
  readonly #newest = new Map<number, { checksum: Buffer; rule: ChecksumRule } | undefined>();

  /** `readers` in chain order; `release` closes them. */
  constructor(readers: SumsReader[], onDamage: DamageReporter, release: () => Promise<void>) {
    this.#cursors = readers.map((r) => new SumsCursor(r));
    this.#onDamage = onDamage;
    this.#release = release;
  }

  /** A partly marked block whose entry follows the whole-block rule (written before remote format 4) is checked on its stored bytes. */
  async needsStoredBytes(layer: number, index: number): Promise<boolean> {
    const stored = await this.#entry(layer, index);
    return stored === undefined || stored.marked !== true;
  }

  async check(layer: number, block: VhdBlock): Promise<void> {
    const first = !this.#newest.has(block.index);
    if (first) {
      this.#newest.set(block.index, undefined);
      if (this.#newest.size > RECENT_BLOCKS) this.#newest.delete(this.#newest.keys().next().value!);
    }
    const stored = await this.#entry(layer, block.index);
    if (!stored) throw await this.#onDamage(layer, block.index, 'has no checksum stored at commit');
    const actual = entryRuleChecksum(stored, block.bitmap, block.data);
    if (!actual.equals(stored.checksum)) throw await this.#onDamage(layer, block.index, 'does not match the checksum stored at commit');
    if (first && isAllOnes(block.bitmap)) this.#newest.set(block.index, { checksum: actual, rule: stored.pieces ?? 'whole' });
  }

  async #entry(layer: number, index: number): Promise<SumsEntry | undefined> {
    try {
      return await this.#cursors[layer]!.find(index);
    } catch (error) {
      throw await this.#onDamage(layer, index, `cannot be checked: its checksum file failed: ${errorMessage(error)}`);
    }
  }

  /**
   * The checksum by `rule` of block `index` as the chain reads it (full bitmap), already computed
   * by the check, when the newest layer holding the block stores it with an all-ones bitmap (the
   * reader then returns that layer's data as is) under an entry of that rule; undefined otherwise.
   */
  fullBlockChecksum(index: number, rule: ChecksumRule): Buffer | undefined {
    const newest = this.#newest.get(index);
    return newest?.rule === rule ? newest.checksum : undefined;
  }

  async close(): Promise<void> {
    await this.#release();
  }
}
