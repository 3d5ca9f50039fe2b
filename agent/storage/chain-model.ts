// Pure decisions over one disk folder's files and the committed backups (no I/O): which file is
// whose parent, which chains exist, which files are committed, which chain tail carries a given
// footer uuid. A parent is the file the child's header names (relative name) AND whose footer uuid
// the child's header gives (docs/remote-format.md §5); anything else is an orphan.
import { DiskType } from '../../shared/vhd/index.js';

export interface ChainFile {
  name: string;
  footerUuid: string;
  diskType: DiskType;
  parentUuid: string | undefined;
  parentName: string | undefined;
}

export interface FolderModel<F extends ChainFile> {
  files: F[];
  /** name → parent file (absent: a full, or an orphan). */
  parent: Map<string, F>;
  /** name → child files. */
  children: Map<string, F[]>;
  /** Differencing files whose parent is missing or does not match. */
  orphans: F[];
}

export function modelFolder<F extends ChainFile>(files: F[]): FolderModel<F> {
  const byName = new Map(files.map((f) => [f.name, f]));
  const parent = new Map<string, F>();
  const children = new Map<string, F[]>();
  const orphans: F[] = [];
  for (const file of files) {
    if (file.diskType !== DiskType.Differencing) continue;
    const candidate = file.parentName === undefined ? undefined : byName.get(file.parentName);
    if (!candidate || candidate.footerUuid !== file.parentUuid || candidate === file) {
      orphans.push(file);
      continue;
    }
    parent.set(file.name, candidate);
    children.set(candidate.name, [...(children.get(candidate.name) ?? []), file]);
  }
  return { files, parent, children, orphans };
}

/** The file and its ancestors, newest first; stops at a full, an orphan or a loop. */
export function ancestry<F extends ChainFile>(model: FolderModel<F>, file: F): F[] {
  const out: F[] = [file];
  const seen = new Set([file.name]);
  let at = model.parent.get(file.name);
  while (at && !seen.has(at.name)) {
    out.push(at);
    seen.add(at.name);
    at = model.parent.get(at.name);
  }
  return out;
}

/** True when the file's ancestry ends in a full (dynamic) disk. */
export function isRooted<F extends ChainFile>(model: FolderModel<F>, file: F): boolean {
  const line = ancestry(model, file);
  return line[line.length - 1]!.diskType === DiskType.Dynamic;
}

/** Names of files needed by the given committed files: the files themselves and their ancestors. */
export function neededNames<F extends ChainFile>(model: FolderModel<F>, committed: Iterable<string>): Set<string> {
  const byName = new Map(model.files.map((f) => [f.name, f]));
  const needed = new Set<string>();
  for (const name of committed) {
    const file = byName.get(name);
    if (file) for (const f of ancestry(model, file)) needed.add(f.name);
  }
  return needed;
}

/** Chains as lists of files from the full to the tail, through files in `keep` only (the needed ones). */
export function chainsOf<F extends ChainFile>(model: FolderModel<F>, keep: Set<string>): F[][] {
  const chains: F[][] = [];
  for (const full of model.files.filter((f) => f.diskType === DiskType.Dynamic && keep.has(f.name))) {
    const chain = [full];
    let next = (model.children.get(full.name) ?? []).filter((c) => keep.has(c.name));
    while (next.length > 0) {
      const child = next.sort((a, b) => a.name.localeCompare(b.name))[0]!;
      chain.push(child);
      next = (model.children.get(child.name) ?? []).filter((c) => keep.has(c.name));
    }
    chains.push(chain);
  }
  return chains;
}
