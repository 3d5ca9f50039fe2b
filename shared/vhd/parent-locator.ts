// Where a differencing disk's parent is, from its header's parent unicode name, for every reader
// that follows a chain (ChainReader, `vhd check`). The name comes from the file, so it is
// untrusted: it must be relative, and the parent it leads to — after resolving every symlink
// (realpath) — must sit in the child's own (real) folder. A chain is a row of files in one
// folder (docs/remote-format.md), so a locator pointing at ../outside/victim.vhd, or a symlink
// leading elsewhere, is refused rather than followed. Loops are detected by the file's real
// identity (device and inode), which no choice of names or symlinked folders can disguise.
import { realpath, stat } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';

export type ParentLocation =
  | { ok: true; /** The parent's real path. */ path: string; /** "dev:ino": the file's identity. */ identity: string }
  | { ok: false; reason: string; notFound: boolean };

/** "dev:ino" of a file (after symlinks). */
export async function fileIdentity(path: string): Promise<string> {
  const s = await stat(path, { bigint: true });
  return `${s.dev}:${s.ino}`;
}

/** Locates the parent named `name` of the disk at `childPath`; never throws for a bad name. */
export async function locateParent(childPath: string, name: string): Promise<ParentLocation> {
  const refuse = (reason: string, notFound = false): ParentLocation => ({ ok: false, reason, notFound });
  const shown = JSON.stringify(name);
  if (name === '') return refuse('differencing disk without a parent name');
  if (isAbsolute(name)) return refuse(`parent name ${shown} is absolute; only names relative to the disk's folder are followed`);
  let folder: string;
  try {
    folder = await realpath(dirname(childPath));
  } catch (error) {
    return refuse(`the disk's folder cannot be resolved: ${(error as Error).message}`);
  }
  const candidate = resolve(folder, name);
  let real: string;
  try {
    real = await realpath(candidate);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return refuse(`parent ${shown} not found (looked for ${candidate})`, code === 'ENOENT' || code === 'ENOTDIR');
  }
  if (dirname(real) !== folder) {
    return refuse(`parent ${shown} resolves to ${real}, outside the disk's folder ${folder}; a chain's parent must sit beside its child`);
  }
  return { ok: true, path: real, identity: await fileIdentity(real) };
}
