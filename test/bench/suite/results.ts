// The shape of `npm run bench`'s results file (bench-results/suite.json): everything the markdown
// table and the chart are made from, with every run's value kept beside its median and range.
import type { CoordinatorScaleRow } from '../coordinator/coordinator-bench.js';
import type { Figure } from '../lib/stats.js';
import type { WanCase } from '../wan-bench.js';

export type Tool = 'deltachain' | 'restic' | 'borg';

export interface MachineFacts {
  cpu: string;
  cores: number;
  memGiB: number;
  kernel: string;
  filesystem: string;
  node: string;
  restic: string;
  borg: string;
  /** 1-minute load average when the suite started and ended. */
  loadStart: number;
  loadEnd: number;
}

export interface BackupFigures {
  wallSec: Figure;
  /** User + system CPU seconds of the tool's processes (Deltachain: host agent + storage agent). */
  cpuSec: Figure;
  /** Bytes read from the source (Deltachain: what the lab pool served; peers: their own count). */
  bytesRead: Figure;
  /** Growth of the repository's allocated size. */
  bytesAdded: Figure;
  /** Deltachain only: bytes the host agent sent to the storage agent (the backup result's bytesSent). */
  bytesSent?: Figure;
}

export interface IncrementalCase {
  /** Write pattern key: clustered, clustered-64k, scattered. */
  pattern: string;
  label: string;
  /** Bytes the guest wrote per run (median). */
  writtenBytes: number;
  /** Deltachain: the VHD-export path (`backup.changedBlocks: vhd-export`); restic, borg: the same writes. */
  tools: Record<Tool, BackupFigures>;
  /** Distinct 64 KiB extents each run's write touched (the writes `tools` backed up). */
  extents: Figure;
  /**
   * Deltachain's CBT path (changed 64 KiB extents read over NBD, packed blocks): its own writes of
   * the same pattern and percent (other seeds), measured after the VHD-export runs.
   */
  cbt?: {
    figures: BackupFigures;
    /** Distinct 64 KiB extents each run's write touched. */
    extents: Figure;
    /** How the host agent read the disk in each run (`cbt-nbd`, or `vhd-export (reason)` when it fell back). */
    readMethods: string[];
  };
}

/** Bytes the pool's SR held as reference-snapshot data between backups, per path (purge on for CBT). */
export interface SnapshotDataFigures {
  vhdExport: number;
  cbt: number;
}

export interface ThroughputFigures {
  wallSec: Figure;
  mibPerSec: Figure;
  cpuSec: Figure;
  /** Deltachain only: CPU seconds of each process (host agent, storage agent, lab pool). */
  cpuByProcess?: Record<string, Figure>;
}

export interface FullCase {
  bytes: number;
  deltachain: ThroughputFigures;
  rawTcp: ThroughputFigures;
}

export interface RestoreCase {
  chainDepth: number;
  bytes: number;
  deltachain: ThroughputFigures;
  /** cp of the raw image + fsync. */
  rawCopy: ThroughputFigures;
  restic: ThroughputFigures;
  borg: ThroughputFigures;
  digestsMatched: boolean;
}

export interface MergeCase {
  parentGiB: number;
  childBytes: number;
  parentFileBytes: number;
  mergeSec: Figure;
  cpSec: Figure;
  cpSyncSec: Figure;
}

/** One coordinator size: the coordinator bench's row as it is (test/bench/coordinator). */
export type CoordinatorCase = CoordinatorScaleRow;

/** One bar of the chart: how Deltachain compares, > 1 = Deltachain ahead (or, for a limit, its share of it). */
export interface Ratio {
  group: string;
  label: string;
  figure: Figure;
  /** What the ratio divides, e.g. "restic wall / Deltachain wall". */
  meaning: string;
  /** A limit: the bar can reach at most 1. */
  limit?: boolean;
}

export interface SuiteResults {
  version: 1;
  date: string;
  durationSec: number;
  machine: MachineFacts;
  options: { diskGiB: number; runs: number; sections: string[] };
  full?: FullCase;
  incremental?: IncrementalCase[];
  snapshotData?: SnapshotDataFigures;
  restore?: RestoreCase;
  merge?: MergeCase[];
  /** Peak RSS (MiB) of each Deltachain process, per phase and overall. */
  memory?: Record<string, Record<string, number>>;
  coordinator?: CoordinatorCase[];
  /** PutDisk and GetDisk across emulated WAN links against a raw TCP copy over each (test/bench/wan-bench.ts). */
  wan?: WanCase[];
  ratios: Ratio[];
  notes: string[];
}
