// The suite's results as markdown: the ratio summary first (what the chart shows), then each
// section's own table. Every cell is "median (min–max)" over the runs.
import type { Figure } from '../lib/stats.js';
import { describeMachine } from './machine.js';
import type { BackupFigures, SuiteResults, ThroughputFigures } from './results.js';
import { formatRatio } from './svg-chart.js';
import { wanTable } from '../wan-bench.js';

const MiB = 1024 * 1024;

function num(v: number, digits: number): string {
  return v.toFixed(digits);
}

/** "median (min–max)" with `digits` decimals, the range left out when all runs agree at that precision. */
export function cell(f: Figure, digits = 1, scale = 1): string {
  const [m, lo, hi] = [f.median / scale, f.min / scale, f.max / scale].map((v) => num(v, digits));
  return lo === hi ? m! : `${m} (${lo}–${hi})`;
}

function ratioCell(f: Figure): string {
  const [m, lo, hi] = [f.median, f.min, f.max].map(formatRatio);
  return lo === hi ? `**${m}**` : `**${m}** (${lo}–${hi})`;
}

const PROCESS_NAMES: Record<string, string> = { hostAgent: 'host agent', storageAgent: 'storage agent', labPool: 'lab pool (the XAPI stand-in, not in the CPU column)' };

export function suiteMarkdown(r: SuiteResults): string {
  const lines: string[] = [];
  const push = (...l: string[]): void => void lines.push(...l);
  push(
    `Measured ${r.date.slice(0, 16).replace('T', ' ')} UTC by \`npm run bench\` in ${(r.durationSec / 60).toFixed(1)} min: ` +
      `${r.options.diskGiB} GiB lab disk, median of ${r.options.runs} runs (min–max).`,
    '',
    `Machine: ${describeMachine(r.machine)}.`,
    '',
  );
  if (r.ratios.length > 0) {
    push('| comparison | ratio | what is divided |', '|---|---:|---|');
    for (const x of r.ratios) push(`| ${x.group}: ${x.label} | ${ratioCell(x.figure)} | ${x.meaning} |`);
    push('');
  }
  if (r.incremental) {
    push(
      `**Incremental backup** after 1 % of the ${r.options.diskGiB} GiB disk changed (Deltachain: lab pool → host agent → gRPC → storage agent; restic and borg: the same bytes as a raw image file):`,
      '',
      '| change | tool | 64 KiB extents written | wall s | CPU s | MiB read from source | MiB sent | MiB added to repository |',
      '|---|---|---:|---:|---:|---:|---:|---:|',
    );
    for (const c of r.incremental) {
      const rows: Array<[string, BackupFigures, Figure]> = [['Deltachain, VHD export', c.tools.deltachain, c.extents]];
      if (c.cbt) rows.push(['Deltachain, CBT + NBD', c.cbt.figures, c.cbt.extents]);
      rows.push(['restic', c.tools.restic, c.extents], ['borg', c.tools.borg, c.extents]);
      for (const [name, t, extents] of rows) {
        const sent = t.bytesSent === undefined ? '–' : cell(t.bytesSent, 1, MiB);
        push(`| ${c.label} (${num(c.writtenBytes / MiB, 0)} MiB written) | ${name} | ${cell(extents, 0)} | ${cell(t.wallSec, 2)} | ${cell(t.cpuSec, 2)} | ${cell(t.bytesRead, 0, MiB)} | ${sent} | ${cell(t.bytesAdded, 1, MiB)} |`);
      }
    }
    push('');
    const fellBack = r.incremental.flatMap((c) => (c.cbt?.readMethods ?? []).filter((m) => m !== 'cbt-nbd').map((m) => `${c.label}: ${m}`));
    if (r.incremental.some((c) => c.cbt)) push(fellBack.length === 0 ? 'Every CBT-path run read its disk over CBT + NBD (no fallback).' : `CBT-path runs that fell back: ${fellBack.join('; ')}.`, '');
    if (r.snapshotData) {
      push(`Reference snapshot data on the pool's SR between backups (physical utilisation of snapshot VDIs other than cbt_metadata): ${num(r.snapshotData.vhdExport / MiB, 0)} MiB with the VHD-export path, ${num(r.snapshotData.cbt / MiB, 0)} MiB with the CBT path (the reference's data purged after each backup).`, '');
    }
  }
  const throughputRow = (name: string, t: ThroughputFigures): string => `| ${name} | ${cell(t.wallSec, 2)} | ${cell(t.mibPerSec, 0)} | ${cell(t.cpuSec, 2)} |`;
  const byProcess = (t: ThroughputFigures): string[] =>
    t.cpuByProcess === undefined ? [] : [`Deltachain's CPU by process (s): ${Object.entries(t.cpuByProcess).map(([name, f]) => `${PROCESS_NAMES[name] ?? name} ${cell(f, 1)}`).join(', ')}.`, ''];
  if (r.full) {
    push(`**Full backup** of the ${num(r.full.bytes / MiB, 0)} MiB disk against the same bytes copied over loopback TCP to a file and fsynced:`, '', '| | wall s | MiB/s | CPU s |', '|---|---:|---:|---:|');
    push(throughputRow('Deltachain full backup', r.full.deltachain), throughputRow('raw TCP copy', r.full.rawTcp), '', ...byProcess(r.full.deltachain));
  }
  if (r.restore) {
    push(
      `**Restore** of the newest backup of a chain ${r.restore.chainDepth} deep (${num(r.restore.bytes / MiB, 0)} MiB disk; Deltachain imports into a new lab VDI, digest ${r.restore.digestsMatched ? 'checked: equal' : 'MISMATCH'}):`,
      '',
      '| | wall s | MiB/s | CPU s |',
      '|---|---:|---:|---:|',
    );
    push(throughputRow('Deltachain restore', r.restore.deltachain), throughputRow('cp + fsync of the raw image', r.restore.rawCopy), throughputRow('restic restore', r.restore.restic), throughputRow('borg extract', r.restore.borg), '', ...byProcess(r.restore.deltachain));
  }
  if (r.merge) {
    push('**Merge** of a delta into a full, against `cp` of the delta file:', '', '| full | delta MiB | merge s | cp s | cp + fsync s |', '|---|---:|---:|---:|---:|');
    for (const m of r.merge) push(`| ${m.parentGiB} GiB (${num(m.parentFileBytes / MiB, 0)} MiB file) | ${num(m.childBytes / MiB, 0)} | ${cell(m.mergeSec, 3)} | ${cell(m.cpSec, 3)} | ${cell(m.cpSyncSec, 3)} |`);
    push('');
  }
  if (r.memory) {
    const phases = [...new Set(Object.values(r.memory).flatMap((p) => Object.keys(p)))];
    push('**Peak RSS** (MiB, kernel VmHWM, reset before each phase):', '', `| process | ${phases.join(' | ')} |`, `|---|${phases.map(() => '---:').join('|')}|`);
    for (const [proc, byPhase] of Object.entries(r.memory)) push(`| ${proc} | ${phases.map((p) => (byPhase[p] === undefined ? '–' : num(byPhase[p]!, 0))).join(' | ')} |`);
    push('');
  }
  if (r.coordinator) {
    push(
      '**Coordinator**: one nightly run planned, dispatched over NATS JetStream and recorded in Postgres, simulated host agents answering without moving data:',
      '',
      '| VMs | agents | plan s | dispatch s | record s | total s | tasks/s | DB rows | DB MiB | coordinator CPU s | coordinator peak RSS MiB |',
      '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    );
    for (const c of r.coordinator) {
      push(`| ${c.vms} | ${c.agents} | ${cell(c.planSec, 2)} | ${cell(c.dispatchSec, 2)} | ${cell(c.recordSec, 2)} | ${cell(c.totalSec, 2)} | ${cell(c.tasksPerSec, 0)} | ${c.dbRowsTotal} | ${num(c.dbBytes / MiB, 0)} | ${cell(c.coordinatorCpuSec, 1)} | ${num(c.coordinatorPeakRssMiB, 0)} |`);
    }
    push('');
  }
  if (r.wan) push('**WAN links** (emulated: rate, fixed delay each way, bounded queue; mutual TLS and grants as in production):', '', wanTable(r.wan));
  for (const note of r.notes) push(`- ${note}`);
  return `${lines.join('\n').trimEnd()}\n`;
}
