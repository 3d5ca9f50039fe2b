// Source files for the peer benchmarks: a file of random bytes (incompressible, like encrypted or
// already compressed guest data), and a change of a fraction of it in runs, like the lab pool's
// `clustered` guest writes (2 MiB runs), so an incremental backup has a known amount of new data.
import { randomBytes, randomInt } from 'node:crypto';
import { open } from 'node:fs/promises';

const MiB = 1024 * 1024;
const WRITE = 4 * MiB;

export async function writeRandomFile(path: string, bytes: number): Promise<void> {
  const file = await open(path, 'w');
  try {
    for (let at = 0; at < bytes; at += WRITE) await file.write(randomBytes(Math.min(WRITE, bytes - at)), 0, undefined, at);
  } finally {
    await file.close();
  }
}

/**
 * Overwrites `fraction` of the file with random bytes in runs of `runBytes` (the last one shorter),
 * each at a distinct run-aligned slot picked at random. Returns the bytes written.
 */
export async function overwriteRuns(path: string, fraction: number, runBytes = 2 * MiB): Promise<number> {
  const file = await open(path, 'r+');
  try {
    const size = (await file.stat()).size;
    const slots = Math.floor(size / runBytes);
    let left = Math.round(size * fraction);
    const wanted = Math.ceil(left / runBytes);
    if (wanted > slots) throw new RangeError(`cannot change ${left} bytes in runs of ${runBytes} in a file of ${size} bytes`);
    const picked = new Set<number>();
    while (picked.size < wanted) picked.add(randomInt(slots));
    const written = left;
    for (const slot of picked) {
      const length = Math.min(runBytes, left);
      await file.write(randomBytes(length), 0, length, slot * runBytes);
      left -= length;
    }
    return written;
  } finally {
    await file.close();
  }
}
