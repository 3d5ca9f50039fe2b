// A restic repository for the benchmarks, used as restic recommends for a disk image: repository
// format v2 with compression `auto` (the default), its password from RESTIC_PASSWORD, its cache in
// use but kept beside the repository (`<dir>/cache`), so that no run shares state with another.
// A file is backed up from its own folder under its base name, so `restore --target DIR` puts it
// back as DIR/<name>. `--json` gives the summary (total_bytes_processed).
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { dirBytes } from './dir-bytes.js';
import { measureCommand, measureThenFsync, type CommandMeasure } from './measure-command.js';
import type { PeerBackupMeasure, PeerRepo } from './peer-backup.js';

const run = promisify(execFile);
/** A bench secret, not a real one: restic needs some password to encrypt. */
const PASSWORD = 'deltachain-bench';

interface ResticSummary {
  message_type: 'summary';
  total_bytes_processed: number;
  data_added: number;
  snapshot_id: string;
}

export class ResticRepo implements PeerRepo {
  private constructor(
    /** The repository itself (`<dir>/repo`). */
    readonly repository: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  /** Initialises a repository in `<dir>/repo`, its cache in `<dir>/cache`; `dir` should be new or empty. */
  static async create(dir: string): Promise<ResticRepo> {
    await mkdir(dir, { recursive: true });
    const repository = join(dir, 'repo');
    const env = { ...process.env, RESTIC_PASSWORD: PASSWORD, RESTIC_REPOSITORY: repository, RESTIC_CACHE_DIR: join(dir, 'cache') };
    await run('restic', ['init', '--repository-version', '2'], { env });
    return new ResticRepo(repository, env);
  }

  async backup(file: string): Promise<PeerBackupMeasure> {
    const before = await dirBytes(this.repository);
    const measure = await measureCommand(['restic', 'backup', '--json', basename(file)], { cwd: dirname(file), env: this.env });
    const summary = measure.stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { message_type?: string })
      .find((m): m is ResticSummary => m.message_type === 'summary');
    if (summary === undefined) throw new Error(`restic backup printed no summary: ${measure.stdout.slice(-500)}`);
    return { ...measure, bytesRead: summary.total_bytes_processed, bytesAdded: (await dirBytes(this.repository)) - before };
  }

  /** `restic restore <snapshot> --target targetDir`, then an fsync of every restored file, timed together. */
  async restore(snapshot: 'latest' | string, targetDir: string): Promise<CommandMeasure> {
    await mkdir(targetDir, { recursive: true });
    return measureThenFsync(['restic', 'restore', snapshot, '--target', targetDir], targetDir, { env: this.env });
  }

  sizeBytes(): Promise<number> {
    return dirBytes(this.repository);
  }
}
