// `npm run bench`: the whole comparison in one run on one machine — Deltachain against restic and
// borg (incremental backups, restores), against the raw-copy limits (full backup vs loopback TCP,
// restore vs cp), merges against cp, peak RSS of each Deltachain process, and the coordinator at
// 1 k / 5 k / 10 k VMs, and PutDisk / GetDisk across emulated WAN links against a raw TCP copy. Writes bench-results/suite.{json,md,svg}; `--publish` also puts the table
// into docs/benchmarks.md. See docs/benchmarks.md for what each figure measures and why.
import { mkdir, mkdtemp, rm, statfs, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCoordinatorBench } from '../coordinator/coordinator-bench.js';
import { startDeltachainStack, type DeltachainStack } from '../deltachain/index.js';
import { figure } from '../lib/stats.js';
import { BorgRepo, ResticRepo, ensurePeerTools } from '../peers/index.js';
import { benchMerge } from '../vhd-merge-bench.js';
import { writeRawMirror } from '../workload/raw-mirror.js';
import { benchWan } from '../wan-bench.js';
import { cbtSection, fullSection, incrementalSection, restoreSection, type DataplaneContext } from './dataplane-phases.js';
import { machineFacts } from './machine.js';
import { suiteMarkdown } from './markdown.js';
import { HELP, parseSuiteOptions, type SuiteOptions } from './options.js';
import { deriveRatios } from './ratios.js';
import { publishTable } from './published-table.js';
import type { CoordinatorCase, MergeCase, SuiteResults } from './results.js';
import { ratioChartSvg } from './svg-chart.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const GiB = 1024 ** 3;

const started = Date.now();
function log(line: string): void {
  const t = ((Date.now() - started) / 1000).toFixed(0).padStart(5);
  process.stderr.write(`[${t} s] ${line}\n`);
}

async function freeBytes(folder: string): Promise<number> {
  const s = await statfs(folder);
  return s.bavail * s.bsize;
}

async function main(o: SuiteOptions): Promise<void> {
  const base = o.folder ?? tmpdir();
  // The merge section removes its files before the data plane starts: the peak is the larger of the two.
  const needGiB = Math.max(
    o.sections.some((s) => s !== 'merge' && s !== 'coordinator' && s !== 'wan') ? 15 * o.diskGiB : 0,
    o.sections.includes('merge') ? Math.max(...o.mergeParentsGiB) + 2 : 0,
  );
  const free = (await freeBytes(base)) / GiB;
  if (free < needGiB) throw new Error(`${base} has ${free.toFixed(0)} GiB free; this run needs about ${needGiB} GiB (use --folder on a larger disk, a smaller --disk-gib, or --only)`);
  const tools = await ensurePeerTools(log);
  const folder = await mkdtemp(join(base, 'deltachain-bench-'));
  const machine = await machineFacts(folder);
  log(`bench suite: ${o.sections.join(', ')}; ${o.diskGiB} GiB disk, ${o.runs} runs; restic ${tools.restic}, borg ${tools.borg}; ${free.toFixed(0)} GiB free in ${base}`);
  const results: Omit<SuiteResults, 'ratios'> = {
    version: 1,
    date: new Date().toISOString(),
    durationSec: 0,
    machine,
    options: { diskGiB: o.diskGiB, runs: o.runs, sections: o.sections },
    notes: [],
  };
  let stack: DeltachainStack | undefined;
  try {
    if (o.sections.includes('merge')) {
      const childMiB = 2 * Math.ceil((o.diskGiB * 1024 * 0.01) / 2);
      log(`merge: a ${childMiB} MiB delta (1 % of the disk in 2 MiB blocks) into fulls of ${o.mergeParentsGiB.join(' and ')} GiB`);
      const merge = await benchMerge({ childMiB, parentsGiB: o.mergeParentsGiB, runs: o.runs, log });
      results.merge = merge.cases.map(
        (c): MergeCase => ({ parentGiB: c.parentGiB, childBytes: c.childFileBytes, parentFileBytes: c.parentFileBytes, mergeSec: figure(c.merge), cpSec: figure(c.cp), cpSyncSec: figure(c.cpSync) }),
      );
    }
    const dataplane = o.sections.filter((s) => s === 'full' || s === 'incremental' || s === 'restore');
    if (dataplane.length > 0) {
      const diskBytes = o.diskGiB * GiB;
      let t = Date.now();
      stack = await startDeltachainStack({ folder: join(folder, 'deltachain'), diskBytes, fill: 100, content: 'mixed', seed: 8, log });
      log(`lab disk of ${o.diskGiB} GiB (mixed content) and Deltachain processes ready in ${((Date.now() - t) / 1000).toFixed(0)} s`);
      const raw = join(folder, 'disk.img');
      t = Date.now();
      await writeRawMirror(stack.lab, stack.vdiUuid, raw);
      log(`raw image written from the lab's export in ${((Date.now() - t) / 1000).toFixed(0)} s`);
      const restic = await ResticRepo.create(join(folder, 'restic'));
      const borg = await BorgRepo.create(join(folder, 'borg'));
      const c: DataplaneContext = { folder, stack, restic, borg, raw, diskBytes, runs: o.runs, log };
      const memory: Record<string, Record<string, number>> = {};
      const phase = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
        await stack!.resetPeaks();
        const value = await work();
        for (const [proc, mib] of Object.entries(await stack!.peakRss())) (memory[proc] ??= {})[name] = mib;
        return value;
      };
      if (o.sections.includes('full')) results.full = await phase('full backup', () => fullSection(c));
      else await stack.fullBackup();
      if (o.sections.includes('incremental')) {
        log('restic and borg: first (full) backups of the raw image, not measured');
        await restic.backup(raw);
        await borg.backup(raw);
        results.incremental = await phase('incremental backups', () => incrementalSection(c));
        results.snapshotData = await phase('incremental backups, CBT path', () => cbtSection(c, results.incremental!));
      }
      if (o.sections.includes('restore')) results.restore = await phase('restore', () => restoreSection(c, o.chainDepth));
      results.memory = memory;
      await stack.close();
      stack = undefined;
      await rm(join(folder, 'restic'), { recursive: true, force: true });
      await rm(join(folder, 'borg'), { recursive: true, force: true });
    }
    if (o.sections.includes('coordinator')) {
      const rows = await runCoordinatorBench({ vmCounts: o.vmCounts, agents: o.agents, runs: o.runs, log });
      results.coordinator = rows.map((r): CoordinatorCase => ({ ...r }));
    }
    if (o.sections.includes('wan')) {
      log('WAN links: PutDisk and GetDisk against a raw TCP copy over the same emulated link');
      results.wan = await benchWan({ runs: o.runs, log });
    }
  } finally {
    await stack?.close().catch(() => undefined);
    if (!o.keep) await rm(folder, { recursive: true, force: true });
  }
  results.durationSec = (Date.now() - started) / 1000;
  results.machine.loadEnd = loadavg()[0]!;
  if (o.runs < 3) results.notes.push(`Only ${o.runs} run(s) per figure: not enough to publish (docs/benchmarks.md wants ≥ 3).`);
  const full: SuiteResults = { ...results, ratios: deriveRatios(results) };
  const out = resolve(ROOT, o.out);
  await mkdir(out, { recursive: true });
  const markdown = suiteMarkdown(full);
  await writeFile(join(out, 'suite.json'), `${JSON.stringify(full, null, 2)}\n`);
  await writeFile(join(out, 'suite.md'), markdown);
  await writeFile(join(out, 'suite.svg'), ratioChartSvg(full.ratios, `Deltachain vs restic, borg and the raw-copy limits (${o.diskGiB} GiB disk, median of ${o.runs})`));
  process.stdout.write(`\n${markdown}\n`);
  log(`wrote ${join(out, 'suite.json')}, suite.md and suite.svg in ${(full.durationSec / 60).toFixed(1)} min`);
  if (o.publish) {
    await publishTable(join(ROOT, 'docs/benchmarks.md'), `${markdown}\n![ratios](benchmarks/suite.svg)\n`);
    await mkdir(join(ROOT, 'docs/benchmarks'), { recursive: true });
    await writeFile(join(ROOT, 'docs/benchmarks/suite.svg'), ratioChartSvg(full.ratios, `Deltachain vs restic, borg and the raw-copy limits (${o.diskGiB} GiB disk, median of ${o.runs})`));
    await writeFile(join(ROOT, 'docs/benchmarks/suite.json'), `${JSON.stringify(full, null, 2)}\n`);
    log('docs/benchmarks.md table, docs/benchmarks/suite.svg and suite.json updated');
  }
}

try {
  const o = parseSuiteOptions(process.argv.slice(2));
  if (o === 'help') process.stdout.write(HELP);
  else await main(o);
} catch (error) {
  process.stderr.write(`bench: ${(error as Error).message}\n`);
  process.exitCode = 1;
}
