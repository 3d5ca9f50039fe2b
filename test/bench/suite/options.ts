// `npm run bench` options. Defaults are the issue's: a 4 GiB disk, 3 runs, every section,
// the coordinator at 1 k / 5 k / 10 k VMs over 100 agents.
import { parseArgs } from 'node:util';

export const SECTIONS = ['merge', 'full', 'incremental', 'restore', 'coordinator', 'wan'] as const;
export type Section = (typeof SECTIONS)[number];

export interface SuiteOptions {
  diskGiB: number;
  runs: number;
  sections: Section[];
  vmCounts: number[];
  agents: number;
  chainDepth: number;
  mergeParentsGiB: number[];
  out: string;
  folder: string | undefined;
  publish: boolean;
  keep: boolean;
}

export const HELP = `npm run bench -- [options]

Runs Deltachain side by side with restic, borg and the raw-copy limits on this machine and writes
bench-results/suite.json, suite.md and suite.svg (a chart of the ratios). About 30 minutes on 2 cores
at the defaults; needs about 15 × the disk size free in the temporary folder (restic, borg and
Deltachain each keep a repository of every incremental run). Installs restic and borgbackup with
apt-get when missing (as root). The incremental section measures Deltachain's VHD-export path and
its CBT + NBD path (the host agent restarted with backup.changedBlocks cbt), restic and borg, and
the snapshot data the pool's SR keeps between backups for each path (docs/benchmarks.md). The wan
section sends PutDisk and GetDisk across emulated links (RTT 50 and 150 ms × 100 Mbit/s and
1 Gbit/s, about 15 s each) beside a raw TCP copy over the same link (npm run bench:wan alone).

  --disk-gib N         lab disk size in GiB (default 4; 16 for the large case)
  --runs N             runs per figure, median kept with min–max (default 3, at least 3 to publish)
  --only LIST          sections, comma-separated: ${SECTIONS.join(',')} (default all)
  --vms LIST           coordinator sizes (default 1000,5000,10000)
  --agents N           simulated host agents for the coordinator (default 100)
  --chain-depth N      depth of the chain restored from (default 20)
  --merge-parents LIST sizes in GiB of the fulls merged into (default 1,16)
  --out DIR            where results go (default bench-results)
  --folder DIR         temporary folder for disks and repositories (default the system's)
  --publish            replace the table in docs/benchmarks.md with this run's
  --keep               keep the temporary folder
  -h, --help           this text
`;

function list(text: string, what: string): number[] {
  const values = text.split(',').map((s) => Number(s.trim()));
  if (values.some((v) => !Number.isFinite(v) || v <= 0)) throw new Error(`${what}: expected positive numbers separated by commas, got "${text}"`);
  return values;
}

export function parseSuiteOptions(argv: string[]): SuiteOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      'disk-gib': { type: 'string', default: '4' },
      runs: { type: 'string', default: '3' },
      only: { type: 'string' },
      vms: { type: 'string', default: '1000,5000,10000' },
      agents: { type: 'string', default: '100' },
      'chain-depth': { type: 'string', default: '20' },
      'merge-parents': { type: 'string', default: '1,16' },
      out: { type: 'string', default: 'bench-results' },
      folder: { type: 'string' },
      publish: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return 'help';
  const [diskGiB] = list(values['disk-gib']!, '--disk-gib');
  const [runs] = list(values.runs!, '--runs');
  const [agents] = list(values.agents!, '--agents');
  const [chainDepth] = list(values['chain-depth']!, '--chain-depth');
  const sections = values.only === undefined ? [...SECTIONS] : values.only.split(',').map((s) => s.trim());
  for (const s of sections) if (!(SECTIONS as readonly string[]).includes(s)) throw new Error(`--only: unknown section "${s}" (choose from ${SECTIONS.join(', ')})`);
  if (sections.includes('restore') && !sections.includes('incremental')) throw new Error('--only: restore needs incremental (it restores the chain the incremental runs build)');
  if (!Number.isInteger(runs!)) throw new Error('--runs: a whole number');
  return {
    diskGiB: diskGiB!,
    runs: runs!,
    sections: sections as Section[],
    vmCounts: list(values.vms!, '--vms'),
    agents: agents!,
    chainDepth: chainDepth!,
    mergeParentsGiB: list(values['merge-parents']!, '--merge-parents'),
    out: values.out!,
    folder: values.folder,
    publish: values.publish!,
    keep: values.keep!,
  };
}
