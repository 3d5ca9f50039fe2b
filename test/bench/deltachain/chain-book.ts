// The harness's own record of the chains it made on the remote: per backup its id and the
// snapshot VDI it exported (the reference snapshot a delta is based on, and what a restore of it
// must equal). Digests are cached once taken.

export interface BookedBackup {
  backupId: string;
  /** Disk key → snapshot VDI uuid. */
  snapshotVdiByDisk: Record<string, string>;
  /** Snapshot VDI uuid → SHA-256, filled when first needed. */
  digests: Map<string, string>;
}

export class ChainBook {
  private readonly chains: BookedBackup[][] = [];

  startChain(backup: BookedBackup): void {
    this.chains.push([backup]);
  }

  extend(backup: BookedBackup): void {
    const chain = this.chains.at(-1);
    if (chain === undefined) throw new Error('no chain yet: take a full backup first');
    chain.push(backup);
  }

  newest(): BookedBackup | undefined {
    return this.chains.at(-1)?.at(-1);
  }

  depth(): number {
    return this.chains.at(-1)?.length ?? 0;
  }

  /** Removes and returns every chain but the newest. */
  takeOlder(): BookedBackup[][] {
    return this.chains.splice(0, Math.max(0, this.chains.length - 1));
  }
}

/** A sortable backup id in the project's shape (`20261126T142800Z-3f9c1a2b`). */
export function newBackupId(now: Date, random: string): string {
  return `${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${random}`;
}
