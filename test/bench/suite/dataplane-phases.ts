// The data-plane sections of the suite, on one lab disk shared by every tool: Deltachain backs it
// up from the lab pool through its real processes; restic and borg back up a raw image file kept
// byte-identical to it (the same seeded writes applied to both, digests compared). Every run of
// every tool follows the same guest write, so runs pair up for the ratios.
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { LabAdminClient } from '../../../lab/pool/index.js';
import type { DcBackupMeasure, DeltachainStack } from '../deltachain/index.js';
import { measureCommand, rawTcpCopy, type BorgRepo, type PeerBackupMeasure, type ResticRepo } from '../peers/index.js';
import { figure, figureOf } from '../lib/stats.js';
import { applyWritesToFile, fileSha256 } from '../workload/raw-mirror.js';
import { planWrites, type WritePattern } from '../../../lab/pool/workload/write-plan.js';
import { touchedExtents } from '../workload/touched-extents.js';
import type { BackupFigures, FullCase, IncrementalCase, RestoreCase, SnapshotDataFigures, ThroughputFigures } from './results.js';

const MiB = 1024 * 1024;
const execFileAsync = promisify(execFile);

export interface DataplaneContext {
  folder: string;
  stack: DeltachainStack;
  restic: ResticRepo;
  borg: BorgRepo;
  /** The raw image file mirroring the lab disk. */
  raw: string;
  diskBytes: number;
  runs: number;
  log: (line: string) => void;
}

/**
 * Seeds of the suite's guest writes, by section: a run's writes are the same in every suite, and
 * `npm run bench:restore-stages` builds the same chain from them.
 */
export const WRITE_SEEDS = {
  /** Pattern `p` (index in PATTERNS), run `run`, VHD-export section. */
  vhdExport: (p: number, run: number): number => 1000 + p * 100 + run,
  /** The 0.1 % write before the delta that switches CBT on. */
  cbtSwitch: 4000,
  /** Pattern `p`, run `run`, CBT section. */
  cbt: (p: number, run: number): number => 4100 + p * 100 + run,
  /** The first of the 0.1 % writes that deepen the chain for the restores. */
  deepen: 5000,
} as const;

export const PATTERNS = [
  { pattern: 'clustered', label: 'clustered 2 MiB runs' },
  { pattern: 'clustered-64k', label: 'clustered 64 KiB runs' },
  { pattern: 'scattered', label: 'scattered 4 KiB pages' },
] as const;

/** sync(1): every dirty page of the machine written back. */
async function syncAll(): Promise<void> {
  await execFileAsync('sync');
}

function throughput(bytes: number, wall: number[], cpu: number[], byProcess?: Array<Record<string, number>>): ThroughputFigures {
  const out: ThroughputFigures = { wallSec: figure(wall), mibPerSec: figure(wall.map((s) => bytes / MiB / s)), cpuSec: figure(cpu) };
  if (byProcess && byProcess.length > 0) {
    out.cpuByProcess = Object.fromEntries(Object.keys(byProcess[0]!).map((name) => [name, figure(byProcess.map((p) => p[name] ?? 0))]));
  }
  return out;
}

export async function fullSection(c: DataplaneContext): Promise<FullCase> {
  const dc: DcBackupMeasure[] = [];
  const tcp: Array<{ wallSec: number; cpuSec: number }> = [];
  for (let run = 0; run < c.runs; run++) {
    const m = await c.stack.fullBackup();
    dc.push(m);
    await c.stack.dropOlderChains();
    const copy = join(c.folder, 'tcp-copy.img');
    const t = await rawTcpCopy(c.raw, copy);
    await rm(copy, { force: true });
    tcp.push(t);
    c.log(`full ${run + 1}/${c.runs}: Deltachain ${(c.diskBytes / MiB / m.wallSec).toFixed(0)} MiB/s (${m.wallSec.toFixed(1)} s, CPU ${m.cpuSec.toFixed(1)} s), raw TCP ${(c.diskBytes / MiB / t.wallSec).toFixed(0)} MiB/s (${t.wallSec.toFixed(1)} s)`);
  }
  return {
    bytes: c.diskBytes,
    deltachain: throughput(c.diskBytes, dc.map((m) => m.wallSec), dc.map((m) => m.cpuSec), dc.map((m) => m.cpuByProcess)),
    rawTcp: throughput(c.diskBytes, tcp.map((m) => m.wallSec), tcp.map((m) => m.cpuSec)),
  };
}

function backupFigures(results: Array<{ wallSec: number; cpuSec: number; bytesRead: number; bytesAdded: number }>): BackupFigures {
  return {
    wallSec: figureOf(results, (r) => r.wallSec),
    cpuSec: figureOf(results, (r) => r.cpuSec),
    bytesRead: figureOf(results, (r) => r.bytesRead),
    bytesAdded: figureOf(results, (r) => r.bytesAdded),
  };
}

/** The same guest write on the lab disk and on the raw image; its bytes and the 64 KiB extents it touched. */
async function writeBoth(c: DataplaneContext, pattern: string, percent: number, seed: number): Promise<{ bytes: number; extents: number }> {
  const lab = await c.stack.write({ pattern, percent, seed, content: 'mixed' });
  const file = await applyWritesToFile(c.raw, { virtualSize: c.diskBytes, pattern: pattern as never, percent, seed, content: 'mixed' });
  if (file.bytes !== lab.bytes) throw new Error(`the raw mirror wrote ${file.bytes} bytes where the lab wrote ${lab.bytes} (${pattern} ${percent} % seed ${seed})`);
  const plan = planWrites({ pattern: pattern as WritePattern, virtualSize: c.diskBytes, percent, seed });
  const planned = plan.reduce((sum, w) => sum + w.length, 0);
  if (planned !== lab.bytes) throw new Error(`the write plan holds ${planned} bytes where the lab wrote ${lab.bytes} (${pattern} ${percent} % seed ${seed}): its extents would not be the lab's`);
  return { bytes: lab.bytes, extents: touchedExtents(plan) };
}

/** Fails the suite if the raw image no longer holds the lab disk's bytes (the peers would be backing up something else). */
export async function checkMirror(c: DataplaneContext): Promise<void> {
  const admin = new LabAdminClient(c.stack.lab.url, { user: c.stack.lab.user, password: c.stack.lab.password });
  const [lab, file] = await Promise.all([admin.digest(c.stack.vdiUuid), fileSha256(c.raw)]);
  if (lab.sha256 !== file) throw new Error(`the raw image's sha256 ${file} differs from the lab disk's ${lab.sha256}: the peers would not be backing up the same bytes`);
}

export async function incrementalSection(c: DataplaneContext): Promise<IncrementalCase[]> {
  const cases: IncrementalCase[] = [];
  for (const [p, { pattern, label }] of PATTERNS.entries()) {
    const written: number[] = [];
    const extents: number[] = [];
    const dc: DcBackupMeasure[] = [];
    const rs: PeerBackupMeasure[] = [];
    const bg: PeerBackupMeasure[] = [];
    for (let run = 0; run < c.runs; run++) {
      const w = await writeBoth(c, pattern, 1, WRITE_SEEDS.vhdExport(p, run));
      written.push(w.bytes);
      extents.push(w.extents);
      dc.push(await c.stack.incrementalBackup());
      rs.push(await c.restic.backup(c.raw));
      bg.push(await c.borg.backup(c.raw));
      const d = dc.at(-1)!;
      c.log(
        `incremental ${label} ${run + 1}/${c.runs}: Deltachain ${d.wallSec.toFixed(2)} s (${d.mode}, ${d.readMethod}, ${(d.bytesSent / MiB).toFixed(1)} MiB sent, ${(d.bytesAdded / MiB).toFixed(1)} MiB added for ${w.extents} extents of 64 KiB), ` +
          `restic ${rs.at(-1)!.wallSec.toFixed(2)} s (${(rs.at(-1)!.bytesAdded / MiB).toFixed(0)} MiB), borg ${bg.at(-1)!.wallSec.toFixed(2)} s (${(bg.at(-1)!.bytesAdded / MiB).toFixed(0)} MiB)`,
      );
      if (d.mode !== 'delta') throw new Error(`Deltachain made a ${d.mode} backup where a delta was expected (${label}, run ${run + 1})`);
    }
    cases.push({
      pattern,
      label,
      writtenBytes: figure(written).median,
      extents: figure(extents),
      tools: {
        deltachain: deltachainFigures(dc),
        restic: backupFigures(rs),
        borg: backupFigures(bg),
      },
    });
  }
  await checkMirror(c);
  return cases;
}

/**
 * The same three patterns through the CBT path, after the VHD-export runs: the host agent is
 * restarted with `backup.changedBlocks: cbt`; one unmeasured delta switches CBT on (its reference
 * was taken without CBT, so it goes through the VHD export); then each run writes the pattern and
 * takes a CBT delta, the reference's data purged after each. Returns the SR's snapshot bytes
 * before the switch (VHD-export references) and after the last run (purged references).
 */
export async function cbtSection(c: DataplaneContext, cases: IncrementalCase[]): Promise<SnapshotDataFigures> {
  const vhdExport = await c.stack.snapshotDataBytes();
  await c.stack.useChangedBlocks('cbt');
  await writeBoth(c, 'clustered', 0.1, WRITE_SEEDS.cbtSwitch);
  const warm = await c.stack.incrementalBackup();
  c.log(`CBT path: host agent restarted with changedBlocks cbt; first delta ${warm.readMethod}${warm.fallbackReason ? ` (${warm.fallbackReason})` : ''} switched CBT on`);
  for (const [p, { pattern, label }] of PATTERNS.entries()) {
    const runs: DcBackupMeasure[] = [];
    const extents: number[] = [];
    for (let run = 0; run < c.runs; run++) {
      extents.push((await writeBoth(c, pattern, 1, WRITE_SEEDS.cbt(p, run))).extents);
      const d = await c.stack.incrementalBackup();
      runs.push(d);
      c.log(`incremental ${label} ${run + 1}/${c.runs}, CBT path: ${d.wallSec.toFixed(2)} s (${d.readMethod}${d.fallbackReason ? `, fell back: ${d.fallbackReason}` : ''}, ${(d.bytesSent / MiB).toFixed(1)} MiB sent, ${(d.bytesAdded / MiB).toFixed(1)} MiB added for ${extents.at(-1)} extents of 64 KiB = ${((extents.at(-1)! * 64) / 1024).toFixed(1)} MiB)`);
    }
    const target = cases.find((x) => x.pattern === pattern);
    if (target) target.cbt = { figures: deltachainFigures(runs), extents: figure(extents), readMethods: runs.map((r) => (r.fallbackReason ? `${r.readMethod} (${r.fallbackReason})` : r.readMethod)) };
  }
  await checkMirror(c);
  return { vhdExport, cbt: await c.stack.snapshotDataBytes() };
}

function deltachainFigures(runs: DcBackupMeasure[]): BackupFigures {
  const figures = backupFigures(runs.map((m) => ({ wallSec: m.wallSec, cpuSec: m.cpuSec, bytesRead: m.bytesReadFromSource, bytesAdded: m.bytesAdded })));
  return { ...figures, bytesSent: figureOf(runs, (m) => m.bytesSent) };
}

export async function restoreSection(c: DataplaneContext, depth: number): Promise<RestoreCase> {
  let seed = WRITE_SEEDS.deepen;
  while (c.stack.chainDepth() < depth) {
    await writeBoth(c, 'clustered', 0.1, seed++);
    const m = await c.stack.incrementalBackup();
    c.log(`chain depth ${c.stack.chainDepth()}/${depth}: delta of ${(m.bytesAdded / MiB).toFixed(0)} MiB in ${m.wallSec.toFixed(2)} s`);
  }
  // The peers' newest snapshot holds the same bytes as the chain's newest backup.
  await c.restic.backup(c.raw);
  await c.borg.backup(c.raw);
  await checkMirror(c);
  const dc: Array<{ wall: number; cpu: number; byProcess: Record<string, number> }> = [];
  const cp: Array<{ wall: number; cpu: number }> = [];
  const rs: Array<{ wall: number; cpu: number }> = [];
  const bg: Array<{ wall: number; cpu: number }> = [];
  let matched = true;
  for (let run = 0; run < c.runs; run++) {
    // Each tool starts with nothing left to write back from the one before (every one of them
    // fsyncs its own output, within its measure): a restore is not slowed by another's writeback.
    await syncAll();
    const d = await c.stack.restoreNewest();
    matched &&= d.digestMatches;
    dc.push({ wall: d.wallSec, cpu: d.cpuSec, byProcess: d.cpuByProcess });
    const copy = join(c.folder, 'restore-copy.img');
    await syncAll();
    const k = await measureCommand(['sh', '-c', 'cp "$1" "$2" && sync "$2"', 'cp', c.raw, copy]);
    await rm(copy, { force: true });
    cp.push({ wall: k.wallSec, cpu: k.cpuSec });
    const target = join(c.folder, 'restore-target');
    await syncAll();
    const r = await c.restic.restore('latest', target);
    await rm(target, { recursive: true, force: true });
    rs.push({ wall: r.wallSec, cpu: r.cpuSec });
    await syncAll();
    const b = await c.borg.restore('latest', target);
    await rm(target, { recursive: true, force: true });
    bg.push({ wall: b.wallSec, cpu: b.cpuSec });
    c.log(
      `restore ${run + 1}/${c.runs}: Deltachain ${d.wallSec.toFixed(1)} s (digest ${d.digestMatches ? 'equal' : 'DIFFERS'}), ` +
        `cp+fsync ${k.wallSec.toFixed(1)} s, restic ${r.wallSec.toFixed(1)} s, borg ${b.wallSec.toFixed(1)} s`,
    );
  }
  const t = (xs: Array<{ wall: number; cpu: number }>): ThroughputFigures => throughput(c.diskBytes, xs.map((x) => x.wall), xs.map((x) => x.cpu));
  const restored = throughput(c.diskBytes, dc.map((x) => x.wall), dc.map((x) => x.cpu), dc.map((x) => x.byProcess));
  return { chainDepth: c.stack.chainDepth(), bytes: c.diskBytes, deltachain: restored, rawCopy: t(cp), restic: t(rs), borg: t(bg), digestsMatched: matched };
}
