// Whether the build in dist/cli/ was made from the files that are here now. The build records
// every file it read (each source file, tsconfig.json, the build script, npm's record of the
// installed packages) with its modification time and size; it is current when each of them is
// unchanged. An edit, a checkout or an `npm ci` changes one of them, and the command then runs
// the TypeScript through tsx instead of an old build. Plain JavaScript and Node's own modules
// only: this runs before anything else at every start (a few hundred stat calls, a few ms).
import { readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const DIST = `${ROOT}dist/cli`;
export const STAMP = 'build-stamp.json';

/** `[path relative to the project, mtimeMs, size]` of a file as it is now; undefined if absent. */
export function fileStamp(root, path) {
  // Concatenated, not path.join: joining was half the time of this check.
  const stat = statSync(root.endsWith('/') ? root + path : `${root}/${path}`, { throwIfNoEntry: false });
  return stat === undefined ? undefined : [path, stat.mtimeMs, stat.size];
}

/** True when `dist` holds a complete build of the files under `root` as they are now. */
export function buildIsCurrent(root = ROOT, dist = DIST) {
  let files;
  try {
    files = JSON.parse(readFileSync(`${dist}/${STAMP}`, 'utf8')).files;
  } catch {
    return false; // no build yet, or one that did not finish (the stamp is written last)
  }
  if (!Array.isArray(files) || files.length === 0) return false;
  for (const [path, mtimeMs, size] of files) {
    const now = fileStamp(root, path);
    if (now === undefined || now[1] !== mtimeMs || now[2] !== size) return false;
  }
  return true;
}
