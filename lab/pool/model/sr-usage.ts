// How much each SR spends on snapshots, read from the records as a real pool's client would:
// snapshot data bytes = the physical_utilisation of snapshot VDIs that still hold data (not
// cbt_metadata) — what keeping reference snapshots costs on an SR. Blocks a snapshot shares with
// its live disk count too (each VHD of a chain reports its own size), so this is an upper bound
// of what deleting the snapshots would free; SR physicalUtilisation counts every block once.
import type { RecordStore } from '../records/record-store.js';

export interface SrUsage {
  uuid: string;
  name: string;
  /** SR.physical_utilisation, bytes. */
  physicalUtilisation: number;
  /** Snapshot VDIs on the SR that still hold data (not cbt_metadata). */
  snapshotsWithData: number;
  /** Sum of their physical_utilisation, bytes. */
  snapshotDataBytes: number;
}

export interface SnapshotDataReport {
  srs: SrUsage[];
  /** Over all SRs, bytes. */
  snapshotDataBytes: number;
}

export function snapshotDataReport(records: RecordStore): SnapshotDataReport {
  const srs = records.entries('SR').map(([, sr]): SrUsage => {
    let snapshotDataBytes = 0;
    let snapshotsWithData = 0;
    for (const ref of sr['VDIs'] as string[]) {
      const vdi = records.find('VDI', ref);
      if (vdi === undefined || vdi['is_a_snapshot'] !== true || vdi['type'] === 'cbt_metadata') continue;
      snapshotsWithData += 1;
      snapshotDataBytes += vdi['physical_utilisation'] as number;
    }
    return { uuid: sr.uuid, name: sr['name_label'] as string, physicalUtilisation: sr['physical_utilisation'] as number, snapshotsWithData, snapshotDataBytes };
  });
  return { srs, snapshotDataBytes: srs.reduce((sum, sr) => sum + sr.snapshotDataBytes, 0) };
}
