// Whether a path exists (any kind of file): the tools refuse to replace an output unless --force.
import { access } from 'node:fs/promises';

export async function pathExists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
