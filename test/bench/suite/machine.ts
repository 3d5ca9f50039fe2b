// The facts printed beside every table: what machine and which tool versions the numbers come from.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { promisify } from 'node:util';
import type { MachineFacts } from './results.js';

const run = promisify(execFile);

async function firstLine(cmd: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await run(cmd, args);
    return stdout.split('\n')[0]!.trim();
  } catch {
    return 'not found';
  }
}

export async function machineFacts(folder: string): Promise<MachineFacts> {
  const cpuinfo = await readFile('/proc/cpuinfo', 'utf8').catch(() => '');
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? cpus()[0]?.model ?? 'unknown';
  const fs = await run('df', ['--output=fstype', folder]).then(
    ({ stdout }) => stdout.trim().split('\n').at(-1) ?? 'unknown',
    () => 'unknown',
  );
  return {
    cpu: model,
    cores: cpus().length,
    memGiB: Math.round(totalmem() / 1024 ** 3),
    kernel: release(),
    filesystem: fs,
    node: process.version,
    restic: (await firstLine('restic', ['version'])).replace(/ compiled.*/, ''),
    borg: await firstLine('borg', ['--version']),
    loadStart: loadavg()[0]!,
    loadEnd: loadavg()[0]!,
  };
}

export function describeMachine(m: MachineFacts): string {
  return `${m.cores} × ${m.cpu}, ${m.memGiB} GiB RAM, ${m.filesystem}, Linux ${m.kernel}, Node ${m.node}, ${m.restic}, ${m.borg}; load average ${m.loadStart.toFixed(1)} at start, ${m.loadEnd.toFixed(1)} at end`;
}
