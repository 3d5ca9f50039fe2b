// Allocated bytes of a file tree, like `du -s --block-size=1`: st_blocks × 512 of every entry,
// hard links counted once. A repository's growth is measured with it, so sparse files and
// partly filled blocks count as the disk really holds them.
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

export async function dirBytes(dir: string): Promise<number> {
  const seen = new Set<string>();
  let total = 0;
  const visit = async (path: string): Promise<void> => {
    const st = await lstat(path);
    const key = `${st.dev}:${st.ino}`;
    if (seen.has(key)) return;
    seen.add(key);
    total += st.blocks * 512;
    if (st.isDirectory()) for (const name of await readdir(path)) await visit(join(path, name));
  };
  await visit(dir);
  return total;
}
