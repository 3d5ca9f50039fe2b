// Full or delta, per VM disk and remote — the heart of incremental-forever backups.
//
// A delta is only correct when it is exported against a snapshot whose contents the remote
// already holds, so a disk goes FULL when
//   * there is no reference snapshot for it (first backup, or a disk added since), or the host
//     reported the reference gone;
//   * the remote has no chain for the disk;
//   * the chain holds a damaged backup (a verify, or a restore that failed on the data, found
//     it): a delta would hang off data that no longer restores correctly, so a new chain starts;
//   * the remote lacks the base: its chain's newest disk is not the reference snapshot's VDI
//     (the VHD footer uuid of every disk is the uuid of the snapshot VDI it came from);
//   * the chain reached the policy's full interval: with interval n the chain holds n backups
//     (full + n-1 deltas) before the next run starts a new one; 0 never starts one, 1 always does;
//   * the operator forced a full.
// Otherwise DELTA against the reference snapshot's VDI. Positions are never reused by merges,
// so `tailPosition + 1` counts the backups the chain has taken.

export type DiskModeReason =
  | 'forced'
  | 'no-reference'
  | 'reference-gone'
  | 'no-chain'
  | 'chain-damaged'
  | 'remote-lacks-base'
  | 'interval-reached'
  | 'continues-chain';

export interface ChainTail {
  /** Footer uuid of the newest disk of the chain. */
  footerUuid: string;
  /** Its position: 0 for the full, n for the n-th delta. */
  position: number;
  /** The oldest backup of the chain found damaged; absent when none is. */
  damagedBackupId?: string;
}

export interface DiskModeInput {
  /** The reference snapshot's VDI for this disk; undefined when there is none. */
  referenceVdiUuid: string | undefined;
  /** True when the host reported the reference snapshot missing. */
  referenceGone: boolean;
  /** The newest chain of this disk on this remote, if any. */
  chain: ChainTail | undefined;
  fullInterval: number;
  forceFull?: boolean;
}

export type DiskMode =
  | { mode: 'full'; reason: Exclude<DiskModeReason, 'continues-chain' | 'chain-damaged'> }
  | { mode: 'full'; reason: 'chain-damaged'; damagedBackupId: string }
  | { mode: 'delta'; reason: 'continues-chain'; baseVdiUuid: string; position: number };

export function planDiskMode(input: DiskModeInput): DiskMode {
  if (input.forceFull) return { mode: 'full', reason: 'forced' };
  if (input.referenceVdiUuid === undefined) return { mode: 'full', reason: 'no-reference' };
  if (input.referenceGone) return { mode: 'full', reason: 'reference-gone' };
  if (input.chain === undefined) return { mode: 'full', reason: 'no-chain' };
  if (input.chain.damagedBackupId !== undefined) return { mode: 'full', reason: 'chain-damaged', damagedBackupId: input.chain.damagedBackupId };
  if (input.chain.footerUuid.toLowerCase() !== input.referenceVdiUuid.toLowerCase()) {
    return { mode: 'full', reason: 'remote-lacks-base' };
  }
  if (input.fullInterval > 0 && input.chain.position + 1 >= input.fullInterval) {
    return { mode: 'full', reason: 'interval-reached' };
  }
  return { mode: 'delta', reason: 'continues-chain', baseVdiUuid: input.referenceVdiUuid, position: input.chain.position + 1 };
}

/** Words for logs and `run show`. */
export const DISK_MODE_REASONS: Readonly<Record<DiskModeReason, string>> = {
  forced: 'a full backup was asked for',
  'no-reference': 'no reference snapshot for this disk yet',
  'reference-gone': 'the reference snapshot is gone from the pool',
  'no-chain': 'the remote holds no chain for this disk',
  'chain-damaged': 'the chain on the remote holds a damaged backup; a new full starts a sound chain',
  'remote-lacks-base': "the remote's newest disk is not the reference snapshot",
  'interval-reached': 'the chain reached the full backup interval',
  'continues-chain': 'delta on the reference snapshot',
};
