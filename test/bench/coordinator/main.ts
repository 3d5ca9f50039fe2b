// `npm run bench:coordinator [-- --vms 1000,5000,10000 --agents 100 --runs 3 --json FILE]`:
// the coordinator at scale (coordinator-bench.ts), printed as a markdown table.
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { Figure } from '../lib/stats.js';
import { runCoordinatorBench, type CoordinatorScaleRow } from './coordinator-bench.js';

const fig = (f: Figure, digits = 2) => `${f.median.toFixed(digits)} (${f.min.toFixed(digits)}–${f.max.toFixed(digits)})`;

export function coordinatorTable(rows: CoordinatorScaleRow[]): string {
  const out = [
    '| VMs | agents | plan s | dispatch s | record s | total s | tasks/s | coordinator CPU s | peak RSS MiB | DB rows | DB MiB |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    out.push(`| ${r.vms} | ${r.agents} | ${fig(r.planSec)} | ${fig(r.dispatchSec)} | ${fig(r.recordSec)} | ${fig(r.totalSec)} | ${fig(r.tasksPerSec, 0)} | ${fig(r.coordinatorCpuSec)} | ${r.coordinatorPeakRssMiB.toFixed(0)} | ${r.dbRowsTotal} | ${(r.dbBytes / 2 ** 20).toFixed(1)} |`);
  }
  out.push('', 'Rows per table after every run of a size:', '');
  for (const r of rows) out.push(`- ${r.vms} VMs: ${Object.entries(r.dbRows).map(([t, n]) => `${t} ${n}`).join(', ')}`);
  return out.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      vms: { type: 'string', default: '1000,5000,10000' },
      agents: { type: 'string', default: '100' },
      runs: { type: 'string', default: '3' },
      json: { type: 'string' },
      'cpu-prof-dir': { type: 'string' },
    },
  });
  const vmCounts = values.vms.split(',').map((v) => Number(v.trim()));
  const agents = Number(values.agents);
  const runs = Number(values.runs);
  if (vmCounts.some((v) => !Number.isInteger(v) || v < 1) || !Number.isInteger(agents) || agents < 1 || !Number.isInteger(runs) || runs < 1) {
    console.error('usage: main.ts [--vms 1000,5000,10000] [--agents 100] [--runs 3] [--json FILE] [--cpu-prof-dir DIR]');
    process.exit(2);
  }
  const started = Date.now();
  const rows = await runCoordinatorBench({
    vmCounts, agents, runs,
    log: (line) => console.error(line),
    ...(values['cpu-prof-dir'] ? { coordinatorNodeArgs: ['--cpu-prof', `--cpu-prof-dir=${values['cpu-prof-dir']}`] } : {}),
  });
  console.log(coordinatorTable(rows));
  console.error(`bench took ${((Date.now() - started) / 1000).toFixed(0)} s`);
  if (values.json) await writeFile(values.json, JSON.stringify(rows, null, 2));
}

await main();
