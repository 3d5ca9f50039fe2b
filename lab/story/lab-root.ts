// The lab's folder (`.lab/` by default) belongs to one lab at a time: `lab.pid` marks it, and a
// second `npm run lab` on the same folder while the first runs is refused (with how to stop the
// first). `lab.pids` lists the processes the lab started; when a lab died without cleaning up
// (SIGKILL, a crash), the next one stops what it left running — only processes whose command
// line names this folder, so a recycled pid is never touched. A new lab then starts from clean
// sub-folders: the previous lab's configs, logs, pool disks and remote files are removed;
// nothing else in the folder is.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DeltachainError } from '../../shared/errors.js';

export const LAB_SUBFOLDERS = ['config', 'logs', 'pools', 'remotes', 'nats'];

export class LabRootBusyError extends DeltachainError {
  override name = 'LabRootBusyError';
  constructor(root: string, pid: number) {
    super('LAB_BUSY', `another lab (pid ${pid}) is running in ${root}: stop it with Ctrl-C in its terminal (or \`kill ${pid}\`), or give this one another --root`);
  }
}

export interface LabRootClaim {
  /** Processes a previous lab had left running, now stopped. */
  leftoversStopped: number;
  /** Remembers the lab's processes (replaces the list). */
  recordProcesses(pids: number[]): Promise<void>;
  release(): Promise<void>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readPids(path: string): Promise<number[]> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text.split(/\s+/).map(Number).filter((pid) => Number.isInteger(pid) && pid > 0);
}

async function commandLineNames(pid: number, root: string): Promise<boolean> {
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return cmdline.split('\0').some((arg) => arg.includes(root));
}

/** Stops (SIGTERM, then SIGKILL after 5 s) the listed processes that are alive and ours. */
async function stopLeftovers(pids: number[], root: string): Promise<number> {
  const ours: number[] = [];
  for (const pid of pids) if (alive(pid) && (await commandLineNames(pid, root))) ours.push(pid);
  for (const pid of ours) process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 5000;
  while (ours.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  for (const pid of ours.filter(alive)) process.kill(pid, 'SIGKILL');
  return ours.length;
}

export async function claimLabRoot(root: string): Promise<LabRootClaim> {
  await mkdir(root, { recursive: true });
  const pidFile = join(root, 'lab.pid');
  const pidsFile = join(root, 'lab.pids');
  const [previous] = await readPids(pidFile);
  if (previous !== undefined && previous !== process.pid && alive(previous)) throw new LabRootBusyError(root, previous);
  const leftoversStopped = await stopLeftovers(await readPids(pidsFile), root);
  for (const folder of LAB_SUBFOLDERS) await rm(join(root, folder), { recursive: true, force: true });
  await writeFile(pidFile, `${process.pid}\n`);
  return {
    leftoversStopped,
    recordProcesses: (pids) => writeFile(pidsFile, `${pids.join('\n')}\n`),
    async release() {
      await rm(pidsFile, { force: true });
      await rm(pidFile, { force: true });
    },
  };
}
