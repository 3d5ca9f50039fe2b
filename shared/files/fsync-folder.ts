// fsync of a folder, so a rename inside it survives a power loss (POSIX leaves the directory
// entry in the page cache until then).
import { open } from 'node:fs/promises';

export async function fsyncFolder(folder: string): Promise<void> {
  const handle = await open(folder, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
