// `npm run bench:peers`: the peer tools and raw limits alone, once, at one size — restic and borg
// full backups of a random file, incremental backups after a 1 % change (2 MiB runs), durable
// restores of the latest backup, the raw TCP copy and cp. A check of this folder's measurements
// and a quick look at the peers; the suite (test/bench/suite) is what compares them with Deltachain.
//
// Options: --size-mib N (1024), --keep (leave the temporary folder).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BorgRepo, copyFile, ensurePeerTools, overwriteRuns, rawTcpCopy, ResticRepo, writeRandomFile, type CommandMeasure, type PeerRepo } from './index.js';

const MiB = 1024 * 1024;
const { values: args } = parseArgs({ options: { 'size-mib': { type: 'string', default: '1024' }, keep: { type: 'boolean', default: false } } });
const size = Number(args['size-mib']) * MiB;

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

function row(label: string, m: CommandMeasure & { bytesRead?: number; bytesAdded?: number }): string {
  const mib = (b: number | undefined): string => (b === undefined ? '' : (b / MiB).toFixed(1));
  return `| ${label} | ${m.wallSec.toFixed(2)} | ${((m.bytesRead ?? size) / MiB / m.wallSec).toFixed(0)} | ${m.cpuSec.toFixed(2)} | ${m.peakRssMiB.toFixed(0)} | ${mib(m.bytesRead)} | ${mib(m.bytesAdded)} |`;
}

const folder = await mkdtemp(join(tmpdir(), 'deltachain-peers-bench-'));
try {
  const versions = await ensurePeerTools(log);
  log(`peers bench: ${versions.restic}; ${versions.borg}; a ${size / MiB} MiB random file, warm in the page cache`);
  const source = join(folder, 'disk.img');
  await writeRandomFile(source, size);
  const repos: Array<[string, PeerRepo]> = [
    ['restic', await ResticRepo.create(join(folder, 'restic'))],
    ['borg', await BorgRepo.create(join(folder, 'borg'))],
  ];
  const rows: string[] = [];
  for (const [name, repo] of repos) rows.push(row(`${name} full`, await repo.backup(source)));
  const changed = await overwriteRuns(source, 0.01);
  log(`changed ${(changed / MiB).toFixed(1)} MiB in 2 MiB runs`);
  for (const [name, repo] of repos) rows.push(row(`${name} incremental (1 %)`, await repo.backup(source)));
  for (const [name, repo] of repos) {
    const target = join(folder, `${name}-restored`);
    rows.push(row(`${name} restore latest + fsync`, await repo.restore('latest', target)));
    await rm(target, { recursive: true, force: true });
  }
  const tcp = await rawTcpCopy(source, join(folder, 'tcp.img'));
  await rm(join(folder, 'tcp.img'));
  const cp = await copyFile(source, join(folder, 'cp.img'));
  log('');
  log('| case | wall s | MiB/s (of bytes read) | CPU s | peak RSS MiB | MiB read (tool) | MiB added to repo |');
  log('|---|---|---|---|---|---|---|');
  for (const r of rows) log(r);
  log('');
  log(`raw TCP copy + fsync: ${tcp.wallSec.toFixed(2)} s = ${(tcp.bytes / MiB / tcp.wallSec).toFixed(0)} MiB/s, CPU ${tcp.cpuSec.toFixed(2)} s (both ends)`);
  log(`cp: ${cp.wallSec.toFixed(2)} s = ${(cp.bytes / MiB / cp.wallSec).toFixed(0)} MiB/s; cp + fsync: ${cp.wallWithFsyncSec.toFixed(2)} s = ${(cp.bytes / MiB / cp.wallWithFsyncSec).toFixed(0)} MiB/s`);
} finally {
  if (!args.keep) await rm(folder, { recursive: true, force: true });
}
