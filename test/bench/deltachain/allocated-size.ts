// Allocated size of a folder tree (st_blocks × 512 of every file): what a remote really uses on
// disk, sparse VHD holes excluded.
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

export async function allocatedBytes(root: string): Promise<number> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
  let total = 0;
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const info = await stat(join(entry.parentPath, entry.name)).catch(() => undefined);
    total += (info?.blocks ?? 0) * 512;
  }
  return total;
}
