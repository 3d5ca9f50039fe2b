// Every file under a remote's root with its size and modification time, sorted: what an attack
// test compares before and after to show nothing on the remote changed.
import { readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';

export async function remoteFileList(root: string): Promise<string[]> {
  const files: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else {
        const s = await stat(path);
        files.push(`${relative(root, path)} ${s.size} ${s.mtimeMs}`);
      }
    }
  };
  await walk(root);
  return files.sort();
}
