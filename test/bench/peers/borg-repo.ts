// A borg repository for the benchmarks, used as borg recommends: `borg init
// --encryption=repokey-blake2` (authenticated encryption, as restic always has), the default
// chunker and lz4 compression, the passphrase from BORG_PASSPHRASE, and BORG_BASE_DIR (cache,
// config, security) beside the repository in `<dir>/base`, so no run shares state with another.
// A file is backed up from its own folder under its base name; `extract` runs in the target folder.
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { dirBytes } from './dir-bytes.js';
import { measureCommand, measureThenFsync, type CommandMeasure } from './measure-command.js';
import type { PeerBackupMeasure, PeerRepo } from './peer-backup.js';

const run = promisify(execFile);
/** A bench secret, not a real one: repokey mode needs a passphrase. */
const PASSPHRASE = 'deltachain-bench';

interface BorgCreateJson {
  archive: { name: string; stats: { original_size: number; compressed_size: number; deduplicated_size: number } };
}

export class BorgRepo implements PeerRepo {
  private archives = 0;

  private constructor(
    /** The repository itself (`<dir>/repo`). */
    readonly repository: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  /** Initialises a repository in `<dir>/repo`, BORG_BASE_DIR in `<dir>/base`; `dir` should be new or empty. */
  static async create(dir: string): Promise<BorgRepo> {
    await mkdir(dir, { recursive: true });
    const repository = join(dir, 'repo');
    const env = { ...process.env, BORG_PASSPHRASE: PASSPHRASE, BORG_BASE_DIR: join(dir, 'base') };
    await run('borg', ['init', '--encryption=repokey-blake2', repository], { env });
    return new BorgRepo(repository, env);
  }

  /** `borg create --stats --json`; bytesRead is the archive's original_size (file bytes plus a few hundred bytes of item metadata). */
  async backup(file: string): Promise<PeerBackupMeasure> {
    const before = await dirBytes(this.repository);
    const name = `bench-${++this.archives}`;
    const measure = await measureCommand(['borg', 'create', '--stats', '--json', `${this.repository}::${name}`, basename(file)], { cwd: dirname(file), env: this.env });
    const created = JSON.parse(measure.stdout) as BorgCreateJson;
    return { ...measure, bytesRead: created.archive.stats.original_size, bytesAdded: (await dirBytes(this.repository)) - before };
  }

  /** `borg extract` of the archive (the newest for 'latest') in targetDir, then an fsync of every extracted file, timed together. */
  async restore(archive: 'latest' | string, targetDir: string): Promise<CommandMeasure> {
    await mkdir(targetDir, { recursive: true });
    const name = archive === 'latest' ? await this.latest() : archive;
    return measureThenFsync(['borg', 'extract', `${this.repository}::${name}`], targetDir, { cwd: targetDir, env: this.env });
  }

  sizeBytes(): Promise<number> {
    return dirBytes(this.repository);
  }

  private async latest(): Promise<string> {
    const { stdout } = await run('borg', ['list', '--last', '1', '--short', this.repository], { env: this.env });
    const name = stdout.trim();
    if (name === '') throw new Error(`borg repository ${this.repository} has no archive to restore`);
    return name;
  }
}
