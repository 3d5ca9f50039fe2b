// Where one disk's blocks come from during a backup, whatever reads them: XAPI's VHD export
// (vhd-export-source.ts) or NBD reads of the extents CBT or allocation name (nbd-source.ts).
// export-disk.ts streams a source's blocks to every remote the same way for both.
import type { ReadMethod } from './backup-types.js';

export interface SourceBlock {
  index: number;
  bitmap: Buffer;
  /** The whole block, or with `packed` only the sectors `bitmap` marks, in order (then possibly in parts, as read). */
  data: Buffer | readonly Buffer[];
  packed: boolean;
}

export interface BlockSource {
  readonly method: ReadMethod;
  readonly virtualSize: number;
  readonly blockSize: number;
  /** Blocks the source will give, and their bytes (bitmaps + data), for progress. */
  readonly expected: { blocks: number; bytes: number };
  /** Each block's buffers may be the source's own, valid only until the next block is asked for. */
  blocks(): AsyncIterable<SourceBlock>;
  /** Resolves when the pool confirms the whole disk was served (XAPI's export task). */
  finished(): Promise<void>;
  /** Stops reading (closes connections); idempotent. */
  cancel(): void;
  /** The error to report for a failure while reading, `progress` saying how far it got. */
  blame(error: unknown, progress: string): Promise<unknown>;
}
