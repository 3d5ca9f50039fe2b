// Small files written atomically and durably: write `.<name>.<8 hex>.tmp` in the same folder
// (`<name>.<8 hex>.tmp` when the name starts with a dot already), fsync it, put it in place, fsync
// the folder. A crash leaves the old state or the new one (plus at worst a temporary, which is
// garbage by docs/remote-format.md §9).
//
// Two ways to put it in place (docs/remote-format.md §7):
//   * `writeFileExclusive` links the temporary to the final name: link(2) fails with EEXIST when
//     the name exists, so a final file of an upload or a commit is never replaced;
//   * `writeFileAtomic` renames over the final name: for a process's own upkeep (the remote
//     marker, a merge's tables and state, refreshed metadata, the lab's state), never for what a
//     client of the storage agent sends.
import { randomBytes } from 'node:crypto';
import { link, open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fsyncFolder } from './fsync-folder.js';

export function temporaryName(path: string): string {
  const name = basename(path);
  return join(dirname(path), `${name.startsWith('.') ? '' : '.'}${name}.${randomBytes(4).toString('hex')}.tmp`);
}

export interface AtomicWriteOptions {
  /** Permission bits of a new file (default 0o666 less the umask). */
  mode?: number;
  /**
   * false skips the folder's fsync after the rename: for progress-only updates, where losing the
   * new state to a power cut only repeats work.
   */
  durable?: boolean;
}

/** Thrown by `writeFileExclusive` and `linkExclusive` when the final name exists already. */
export class FinalFileExistsError extends Error {
  override name = 'FinalFileExistsError';
  readonly path: string;
  constructor(path: string) {
    super(`${path} exists already; a final file is never replaced`);
    this.path = path;
  }
}

export async function writeFileAtomic(path: string, data: Uint8Array | string, options: AtomicWriteOptions = {}): Promise<void> {
  const temp = await writeTemporary(path, data, options.mode);
  try {
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  if (options.durable !== false) await fsyncFolder(dirname(path));
}

/** Writes a file that must not exist yet; FinalFileExistsError (nothing changed) if it does. */
export async function writeFileExclusive(path: string, data: Uint8Array | string): Promise<void> {
  await linkExclusive(await writeTemporary(path, data), path);
}

/**
 * Puts a complete, fsynced temporary in place under `path` without ever replacing a file:
 * link(2), then unlink the temporary, then fsync the folder. The temporary is removed either way.
 */
export async function linkExclusive(temp: string, path: string): Promise<void> {
  try {
    await link(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new FinalFileExistsError(path);
    throw error;
  }
  await unlink(temp);
  await fsyncFolder(dirname(path));
}

async function writeTemporary(path: string, data: Uint8Array | string, mode?: number): Promise<string> {
  const temp = temporaryName(path);
  const handle = await open(temp, 'wx', mode);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  await handle.close();
  return temp;
}

/** A text file's content, or undefined when there is no such file. */
export async function readFileIfPresent(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Removes a file; absent is fine. Returns whether it existed. */
export async function removeIfPresent(path: string): Promise<boolean> {
  try {
    await unlink(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}
