// Makes sure restic and borg are installed before a bench compares Deltachain with them: on a
// Debian machine as root, installs the distribution's packages (restic, borgbackup); otherwise
// stops with the command to run.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

async function version(command: string, args: string[]): Promise<string | undefined> {
  try {
    const { stdout } = await run(command, args);
    return stdout.trim().split('\n')[0];
  } catch {
    return undefined;
  }
}

async function versions(): Promise<{ restic?: string; borg?: string }> {
  const [restic, borg] = await Promise.all([version('restic', ['version']), version('borg', ['--version'])]);
  return { restic, borg };
}

/** restic and borg present? If not and we are root: apt-get install them; else an error saying what to run. */
export async function ensurePeerTools(log: (s: string) => void = () => undefined): Promise<{ restic: string; borg: string }> {
  let found = await versions();
  const missing = [found.restic === undefined ? 'restic' : undefined, found.borg === undefined ? 'borgbackup' : undefined].filter((p) => p !== undefined);
  if (missing.length > 0) {
    if (process.getuid?.() !== 0) {
      throw new Error(`the peer benchmarks need ${missing.join(' and ')}: run \`sudo apt-get install ${missing.join(' ')}\` (restic 0.14+, borg 1.2+)`);
    }
    log(`installing ${missing.join(' ')} with apt-get`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    try {
      await run('apt-get', ['update', '-qq'], { env });
      await run('apt-get', ['install', '-y', '-qq', ...missing], { env });
    } catch (cause) {
      throw new Error(`could not install ${missing.join(' and ')} with apt-get; install restic 0.14+ and borg 1.2+ by hand`, { cause });
    }
    found = await versions();
  }
  if (found.restic === undefined || found.borg === undefined) throw new Error('restic or borg is still missing after apt-get install restic borgbackup');
  return { restic: found.restic, borg: found.borg };
}
