// The lab's folder (`.lab/` by default) belongs to one lab at a time: a pid file marks it, a
// second `npm run lab` on the same folder while the first runs is refused (with how to stop the
// first), and a new lab starts from clean sub-folders — the previous lab's configs, logs, pool
// disks and remote files are removed; nothing else in the folder is touched.
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

export async function claimLabRoot(root: string): Promise<LabRootClaim> {
  await mkdir(root, { recursive: true });
  const pidFile = join(root, 'lab.pid');
  const previous = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
  if (Number.isInteger(previous) && previous > 0 && previous !== process.pid && alive(previous)) throw new LabRootBusyError(root, previous);
  for (const folder of LAB_SUBFOLDERS) await rm(join(root, folder), { recursive: true, force: true });
  await writeFile(pidFile, `${process.pid}\n`);
  return { release: () => rm(pidFile, { force: true }) };
}
