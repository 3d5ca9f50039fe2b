// One merge at a time per parent: `<folder>/.<parentBasename>.merge.lock`, created exclusively
// (O_EXCL), holding the owner's host and pid. Tasks are delivered at least once, so the same merge
// can be asked for twice at the same moment; the second caller gets a retryable error instead of
// two writers interleaving in the parent. A lock left by a process that died (killed mid-merge)
// is taken over when its host is this host and its pid no longer runs.
import { open, readFile, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { DeltachainError } from '../errors.js';

export class MergeLockedError extends DeltachainError {
  override name = 'MergeLockedError';
  constructor(path: string, owner: string) {
    super('VHD_MERGE_LOCKED', `${path} is held by ${owner}: another merge of this parent is running; retry when it ends`, {
      retryable: true,
    });
  }
}

export interface MergeLock {
  /** Removes the lock file; later calls do nothing. */
  release(): Promise<void>;
}

const FRESH_MS = 10_000;

interface Owner {
  host: string;
  pid: number;
}

export function mergeLockPath(folder: string, parentBasename: string): string {
  return join(folder, `.${parentBasename}.merge.lock`);
}

export async function acquireMergeLock(folder: string, parentBasename: string): Promise<MergeLock> {
  const path = mergeLockPath(folder, parentBasename);
  const me: Owner = { host: hostname(), pid: process.pid };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(path, 'wx');
      try {
        await handle.writeFile(JSON.stringify(me));
      } finally {
        await handle.close();
      }
      let held = true;
      // Idempotent: a second release must not remove a lock another merge took meanwhile.
      return {
        release: async () => {
          if (!held) return;
          held = false;
          await unlink(path).catch(() => undefined);
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = await readOwner(path);
    if (owner && !isStale(owner, me)) throw new MergeLockedError(path, `pid ${owner.pid} on ${owner.host}`);
    if (!owner && (await isFresh(path))) throw new MergeLockedError(path, 'a process that is just starting');
    await unlink(path).catch(() => undefined);
  }
  throw new MergeLockedError(path, 'a process that keeps taking it');
}

/** A lock file without an owner yet may be one being written right now. */
async function isFresh(path: string): Promise<boolean> {
  try {
    return Date.now() - (await stat(path)).mtimeMs < FRESH_MS;
  } catch {
    return false;
  }
}

async function readOwner(path: string): Promise<Owner | undefined> {
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as Partial<Owner>;
    if (typeof parsed.host === 'string' && Number.isInteger(parsed.pid)) return parsed as Owner;
  } catch {
    // Unreadable or half-written: its writer is starting, or died between create and write.
  }
  return undefined;
}

function isStale(owner: Owner, me: Owner): boolean {
  if (owner.host !== me.host) return false;
  if (owner.pid === me.pid) return false;
  try {
    process.kill(owner.pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
