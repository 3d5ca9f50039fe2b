// `npm run bench:dataplane`: the Deltachain data plane alone, on real processes (lab pool,
// storage agent, host agent): `--runs` fulls of a `--disk-gib` disk (older chains dropped in
// between), then three deltas after 1 % guest writes (clustered, clustered-64k when the lab has
// it, scattered), then a restore of the newest backup checked against the lab's digest. Prints a
// table (wall time, MiB/s, CPU, bytes) and each process's peak RSS; `--json FILE` writes it all.
//
// Options: --disk-gib 4, --runs 3, --fill 100 (percent of the disk holding data), --content mixed
// (random when the lab has no mixed content), --seed 1, --json FILE.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { figure, type Figure } from '../lib/stats.js';
import { startDeltachainStack } from './index.js';
import type { DcBackupMeasure, DcRestoreMeasure, DiskContent } from './types.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

const { values: args } = parseArgs({
  options: {
    'disk-gib': { type: 'string', default: '4' },
    runs: { type: 'string', default: '3' },
    fill: { type: 'string', default: '100' },
    content: { type: 'string', default: 'mixed' },
    seed: { type: 'string', default: '1' },
    json: { type: 'string' },
  },
});
const diskBytes = Math.round(Number(args['disk-gib']) * GiB);
const runs = Number(args.runs);
const content = args.content as DiskContent;
if (!(diskBytes > 0) || !(runs >= 1) || !['random', 'mixed'].includes(content)) {
  process.stderr.write('usage: bench:dataplane [--disk-gib 4] [--runs 3] [--fill 100] [--content mixed|random] [--seed 1] [--json FILE]\n');
  process.exit(2);
}

interface Row {
  case: string;
  measure: DcBackupMeasure | DcRestoreMeasure;
}

const log = (line: string): void => void process.stdout.write(`${line}\n`);
const mib = (bytes: number): string => (bytes / MiB).toFixed(1);
const fig = (f: Figure, digits = 1): string => `${f.median.toFixed(digits)} (${f.min.toFixed(digits)}–${f.max.toFixed(digits)})`;

const folder = await mkdtemp(join(tmpdir(), 'dc-bench-dataplane-'));
const stack = await startDeltachainStack({ folder, diskBytes, fill: Number(args.fill), content, seed: Number(args.seed), log }).catch(async (error: unknown) => {
  await rm(folder, { recursive: true, force: true });
  throw error;
});
const rows: Row[] = [];
const peaks: Record<string, Record<string, number>> = {};
try {
  log(`data plane: ${args['disk-gib']} GiB disk, ${args.fill} % data, content ${stack.content}, ${runs} fulls`);
  await stack.resetPeaks();
  const fulls: DcBackupMeasure[] = [];
  for (let run = 0; run < runs; run++) {
    const full = await stack.fullBackup();
    await stack.dropOlderChains();
    fulls.push(full);
    rows.push({ case: `full #${run + 1}`, measure: full });
    log(`full #${run + 1}: ${full.wallSec.toFixed(1)} s, ${mib(full.bytesSent)} MiB sent`);
  }
  peaks['fulls'] = await stack.peakRss();
  await stack.resetPeaks();
  const patterns = ['clustered', 'clustered-64k', 'scattered'];
  for (const [i, pattern] of patterns.entries()) {
    const written = await stack.write({ pattern, percent: 1, seed: 100 + i }).catch((error: Error) => {
      log(`skipped the ${pattern} write: ${error.message}`);
      return undefined;
    });
    if (written === undefined) continue;
    const delta = await stack.incrementalBackup();
    rows.push({ case: `delta after 1 % ${pattern} (${written.blocks} blocks written)`, measure: delta });
    log(`delta after 1 % ${pattern}: ${delta.wallSec.toFixed(1)} s, ${delta.blocks} blocks`);
  }
  const restore = await stack.restoreNewest();
  rows.push({ case: `restore of the newest (chain of ${restore.chainDepth})`, measure: restore });
  peaks['deltas and restore'] = await stack.peakRss();
  if (!restore.digestMatches) process.exitCode = 1;

  log('');
  log('| case | wall s | MiB/s | CPU s (host+storage) | host / storage / lab CPU s | blocks | read MiB | sent MiB | added MiB |');
  log('|---|---|---|---|---|---|---|---|---|');
  for (const { case: name, measure: m } of rows) {
    const moved = 'bytesSent' in m ? m.bytesSent : m.bytes;
    const cpu = m.cpuByProcess;
    const backup = 'bytesSent' in m ? m : undefined;
    log(`| ${name} | ${m.wallSec.toFixed(1)} | ${(moved / MiB / m.wallSec).toFixed(0)} | ${m.cpuSec.toFixed(1)} | ${cpu['hostAgent']!.toFixed(1)} / ${cpu['storageAgent']!.toFixed(1)} / ${cpu['labPool']!.toFixed(1)} | ${backup?.blocks ?? '—'} | ${backup ? mib(backup.bytesReadFromSource) : '—'} | ${mib(moved)} | ${backup ? mib(backup.bytesAdded) : '—'} |`);
  }
  log('');
  log(`full: wall ${fig(figure(fulls.map((f) => f.wallSec)))} s, ${fig(figure(fulls.map((f) => f.bytesSent / MiB / f.wallSec)), 0)} MiB/s, CPU ${fig(figure(fulls.map((f) => f.cpuSec)))} s — median (min–max) of ${runs}`);
  log(`restore: ${restore.wallSec.toFixed(1)} s, ${mib(restore.bytes)} MiB, digest ${restore.digestMatches ? 'matches' : 'DIFFERS'}`);
  for (const [phase, byProcess] of Object.entries(peaks)) {
    log(`peak RSS during ${phase}: ${Object.entries(byProcess).map(([p, v]) => `${p} ${v.toFixed(0)} MiB`).join(', ')}`);
  }
  if (args.json !== undefined) {
    const report = { date: new Date().toISOString(), node: process.version, diskBytes, fill: Number(args.fill), content: stack.content, runs, rows, peaks };
    await writeFile(args.json, `${JSON.stringify(report, null, 2)}\n`);
  }
} finally {
  await stack.close();
  await rm(folder, { recursive: true, force: true });
}
