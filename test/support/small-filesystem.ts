// A small file system of its own (tmpfs of a given size) for tests that need a remote to run out
// of room for real: writes past its size fail with ENOSPC, as on a full NAS. Mounting needs root
// (CAP_SYS_ADMIN); when that is not possible the reason is returned, for an explicit skip.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface SmallFilesystem {
  path: string;
  unmount(): Promise<void>;
}

/** Mounts a tmpfs of `bytes` on a new folder; `{ skip }` says why it could not. */
export async function mountSmallFilesystem(bytes: number): Promise<SmallFilesystem | { skip: string }> {
  const path = await mkdtemp(join(tmpdir(), 'dc-small-fs-'));
  try {
    await run('mount', ['-t', 'tmpfs', '-o', `size=${bytes},mode=0755`, 'tmpfs', path]);
  } catch (error) {
    await rm(path, { recursive: true, force: true });
    return { skip: `cannot mount a ${bytes}-byte tmpfs (needs root): ${(error as Error).message.split('\n')[0]}` };
  }
  return {
    path,
    async unmount() {
      await run('umount', [path]).catch(() => run('umount', ['-l', path]));
      await rm(path, { recursive: true, force: true });
    },
  };
}
