// The ratios the chart shows, each paired run by run (run i of Deltachain against run i of the
// peer, measured on the same change or the same bytes) and then summarised, so a ratio's range
// is the range of real pairs, not of independent medians. The CBT path's runs follow writes of
// their own (same pattern and size, other seeds: the peers' writes were already backed up), so
// they pair with the peers' run i on an equal change, not the same one.
import { figure, type Figure } from '../lib/stats.js';
import { CBT_EXTENT } from '../workload/touched-extents.js';
import type { Ratio, SuiteResults } from './results.js';

/** Run-by-run quotient of two figures measured in pairs. */
export function pairedRatio(numerator: Figure, denominator: Figure): Figure {
  const n = Math.min(numerator.runs.length, denominator.runs.length);
  const values: number[] = [];
  for (let i = 0; i < n; i++) values.push(numerator.runs[i]! / denominator.runs[i]!);
  return figure(values);
}

export function deriveRatios(r: Omit<SuiteResults, 'ratios'>): Ratio[] {
  const out: Ratio[] = [];
  for (const c of r.incremental ?? []) {
    const dc = c.tools.deltachain;
    for (const peer of ['restic', 'borg'] as const) {
      out.push({ group: 'Incremental backup time', label: `${c.label}: ${peer}`, figure: pairedRatio(c.tools[peer].wallSec, dc.wallSec), meaning: `${peer} wall / Deltachain wall` });
    }
  }
  for (const c of r.incremental ?? []) {
    const dc = c.tools.deltachain;
    for (const peer of ['restic', 'borg'] as const) {
      out.push({ group: 'Incremental repository growth', label: `${c.label}: ${peer}`, figure: pairedRatio(c.tools[peer].bytesAdded, dc.bytesAdded), meaning: `${peer} bytes added / Deltachain bytes added` });
    }
  }
  for (const c of r.incremental ?? []) {
    if (c.cbt === undefined) continue;
    const cbt = c.cbt.figures;
    for (const peer of ['restic', 'borg'] as const) {
      out.push({ group: 'Incremental backup time, CBT path', label: `${c.label}: ${peer}`, figure: pairedRatio(c.tools[peer].wallSec, cbt.wallSec), meaning: `${peer} wall / Deltachain (CBT) wall; target ≥ 3` });
    }
    const extentBytes = { ...c.cbt.extents, runs: c.cbt.extents.runs.map((n) => n * CBT_EXTENT) };
    const overExtents = c.pattern === 'clustered' ? '' : '; target ≤ 1.1';
    out.push({ group: 'Incremental bytes added, CBT path', label: `${c.label}: vs the extents touched`, figure: pairedRatio(cbt.bytesAdded, extentBytes), meaning: `Deltachain (CBT) bytes added / (64 KiB extents the write touched × 64 KiB)${overExtents}` });
    const overRestic = c.pattern === 'scattered' ? '; target ≤ 0.4' : '';
    out.push({ group: 'Incremental bytes added, CBT path', label: `${c.label}: vs restic`, figure: pairedRatio(cbt.bytesAdded, c.tools.restic.bytesAdded), meaning: `Deltachain (CBT) bytes added / restic bytes added (an equal write of the same pattern)${overRestic}` });
  }
  if (r.full) {
    out.push({ group: 'Against the limit', label: 'full backup vs raw TCP copy', figure: pairedRatio(r.full.deltachain.mibPerSec, r.full.rawTcp.mibPerSec), meaning: 'Deltachain MiB/s / raw loopback TCP copy MiB/s', limit: true });
  }
  if (r.restore) {
    out.push({ group: 'Against the limit', label: `restore (chain of ${r.restore.chainDepth}) vs raw copy`, figure: pairedRatio(r.restore.deltachain.mibPerSec, r.restore.rawCopy.mibPerSec), meaning: 'Deltachain restore MiB/s / cp + fsync MiB/s', limit: true });
    out.push({ group: 'Restore time', label: 'restic restore', figure: pairedRatio(r.restore.restic.wallSec, r.restore.deltachain.wallSec), meaning: 'restic restore wall / Deltachain restore wall' });
    out.push({ group: 'Restore time', label: 'borg extract', figure: pairedRatio(r.restore.borg.wallSec, r.restore.deltachain.wallSec), meaning: 'borg extract wall / Deltachain restore wall' });
  }
  for (const c of r.wan ?? []) {
    const link = `${c.rttMs} ms RTT, ${c.megabits >= 1000 ? `${c.megabits / 1000} Gbit/s` : `${c.megabits} Mbit/s`}`;
    out.push({ group: 'WAN link', label: `PutDisk vs raw TCP, ${link}`, figure: c.putRatio, meaning: 'PutDisk MiB/s / raw TCP copy MiB/s over the same emulated link; target ≥ 0.9', limit: true });
    out.push({ group: 'WAN link', label: `GetDisk vs raw TCP, ${link}`, figure: c.getRatio, meaning: 'GetDisk MiB/s / raw TCP copy MiB/s over the same emulated link; target ≥ 0.9', limit: true });
  }
  for (const m of r.merge ?? []) {
    out.push({ group: 'Merge', label: `merge into a ${m.parentGiB} GiB full vs cp + fsync`, figure: pairedRatio(m.cpSyncSec, m.mergeSec), meaning: 'cp + fsync wall / merge wall' });
  }
  return out;
}
