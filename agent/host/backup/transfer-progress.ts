// Counts what a backup or restore has moved and reports it at most once per interval (and at
// each phase change), with the average rate since the transfer started. Totals grow as each
// disk's export announces its allocated blocks. The clock is a parameter.

/** The stages of a backup (cleanup … rotate) and of a restore (create, import, finish). */
export type TransferPhase = 'cleanup' | 'snapshot' | 'export' | 'commit' | 'rotate' | 'create' | 'import' | 'finish';

/** Progress of a backup or restore while it runs. */
export interface ProgressReport {
  phase: TransferPhase;
  bytesDone: number;
  /** Known once every disk's transfer has started; 0 before. */
  bytesTotal: number;
  blocksDone: number;
  blocksTotal: number;
  /** Average bytes per second since the transfer started. */
  rate: number;
}

export type ProgressListener = (progress: ProgressReport) => void;

export class TransferProgress {
  private phase: TransferPhase = 'cleanup';
  private bytesDone = 0;
  private bytesTotal = 0;
  private blocksDone = 0;
  private blocksTotal = 0;
  private startedAt: number | undefined;
  private lastReport = -Infinity;

  constructor(
    private readonly listener: ProgressListener | undefined,
    private readonly intervalMs: number,
    private readonly clock: () => number = Date.now,
  ) {}

  enter(phase: TransferPhase): void {
    this.phase = phase;
    if (phase === 'export' || phase === 'import') this.startedAt ??= this.clock();
    this.report(true);
  }

  expect(blocks: number, bytes: number): void {
    this.blocksTotal += blocks;
    this.bytesTotal += bytes;
  }

  /** Takes back what a failed transfer of one disk announced and counted (it is sent again). */
  retract(expected: { blocks: number; bytes: number }, done: { blocks: number; bytes: number }): void {
    this.blocksTotal -= expected.blocks;
    this.bytesTotal -= expected.bytes;
    this.blocksDone -= done.blocks;
    this.bytesDone -= done.bytes;
  }

  add(blocks: number, bytes: number): void {
    this.blocksDone += blocks;
    this.bytesDone += bytes;
    this.report(false);
  }

  snapshot(): ProgressReport {
    const elapsed = this.startedAt === undefined ? 0 : (this.clock() - this.startedAt) / 1000;
    return {
      phase: this.phase,
      bytesDone: this.bytesDone,
      bytesTotal: this.bytesTotal,
      blocksDone: this.blocksDone,
      blocksTotal: this.blocksTotal,
      rate: elapsed > 0 ? Math.round(this.bytesDone / elapsed) : 0,
    };
  }

  private report(force: boolean): void {
    if (this.listener === undefined) return;
    const now = this.clock();
    if (!force && now - this.lastReport < this.intervalMs) return;
    this.lastReport = now;
    this.listener(this.snapshot());
  }
}
