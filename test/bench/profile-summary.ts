// Summarises V8 CPU profiles (.cpuprofile, from `node --cpu-prof`) by self time: the functions
// where a process spent its CPU, with their share of the sampled time, and the share spent in
// garbage collection, idle and native code. Usage:
//   node --import tsx test/bench/profile-summary.ts FILE.cpuprofile... [--top 25]
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Self time in microseconds per function (name, file and line), largest first. */
export function selfTimes(profile: Profile): Array<{ name: string; micros: number }> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const totals = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const frame = byId.get(id)!.callFrame;
    const file = frame.url ? `${basename(frame.url)}:${frame.lineNumber + 1}` : '';
    const name = `${frame.functionName || '(anonymous)'}${file ? ` ${file}` : ''}`;
    totals.set(name, (totals.get(name) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  return [...totals].map(([name, micros]) => ({ name, micros })).sort((a, b) => b.micros - a.micros);
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' } } });
  for (const file of positionals) {
    const profile = JSON.parse(await readFile(file, 'utf8')) as Profile;
    const rows = selfTimes(profile);
    const total = rows.reduce((sum, r) => sum + r.micros, 0);
    const idle = rows.find((r) => r.name === '(idle)')?.micros ?? 0;
    process.stdout.write(`${file}: ${(total / 1e6).toFixed(1)} s sampled, ${((total - idle) / 1e6).toFixed(1)} s busy\n`);
    for (const r of rows.slice(0, Number(values.top))) {
      process.stdout.write(`  ${(r.micros / 1e6).toFixed(2).padStart(7)} s ${((100 * r.micros) / total).toFixed(1).padStart(5)} %  ${r.name}\n`);
    }
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
