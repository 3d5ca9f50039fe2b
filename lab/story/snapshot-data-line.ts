// One line of the story's output after each night: the bytes of snapshot data the pool's SRs
// hold (snapshot VDIs that are not cbt_metadata, see lab/pool/model/sr-usage.ts). With CBT the
// reference snapshot's data is purged each night, so this should stay at zero between runs.
import { humanSize } from '../../shared/human-units.js';
import type { SnapshotDataReport } from '../pool/model/sr-usage.js';

export function snapshotDataLine(report: SnapshotDataReport): string {
  const perSr = report.srs.map((sr) => `${sr.name} ${humanSize(sr.snapshotDataBytes)}${sr.snapshotsWithData === 0 ? '' : ` (${sr.snapshotsWithData} snapshot${sr.snapshotsWithData === 1 ? '' : 's'})`}`);
  return `snapshot data on the pool's SRs: ${humanSize(report.snapshotDataBytes)} — ${perSr.join(', ')}`;
}
