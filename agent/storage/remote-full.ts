// A write that failed because the remote's file system has no room (ENOSPC, or EDQUOT for a
// quota) is not a storage agent bug and not worth an immediate retry: the operator must free
// space. Such failures are recognised wherever they surface (the errno may sit deep in a cause
// chain: the VHD writer wraps its first failure) and reported as RemoteFullError — gRPC
// RESOURCE_EXHAUSTED with the remote's name and what is left, side `remote-full`. Uploads also
// check a free-space floor before they write (checkFreeSpace), refusing with the same error.
import { statfs } from 'node:fs/promises';
import { status } from '@grpc/grpc-js';
import { StorageError } from './errors.js';
import type { RemoteContext } from './remote-context.js';

const NO_ROOM = new Set(['ENOSPC', 'EDQUOT']);

export class RemoteFullError extends StorageError {
  override name = 'RemoteFullError';
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('REMOTE_FULL', status.RESOURCE_EXHAUSTED, message, { ...options, side: 'remote-full' });
  }
}

/** The errno code (ENOSPC …) found on the error or along its cause chain. */
export function errnoOf(error: unknown): string | undefined {
  for (let at: unknown = error, depth = 0; at instanceof Error && depth < 8; at = at.cause, depth++) {
    const code = (at as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return code;
  }
  return undefined;
}

export function isNoRoom(error: unknown): boolean {
  const code = errnoOf(error);
  return code !== undefined && NO_ROOM.has(code);
}

/** Free and total bytes of the remote's file system (undefined when it cannot be read). */
export async function remoteSpace(root: string): Promise<{ free: number; total: number } | undefined> {
  try {
    const fs = await statfs(root);
    return { free: fs.bavail * fs.bsize, total: fs.blocks * fs.bsize };
  } catch {
    return undefined;
  }
}

/** `error` itself, or a RemoteFullError naming the remote and its free space when it is ENOSPC. */
export async function asRemoteFull(ctx: RemoteContext, error: unknown, what: string): Promise<unknown> {
  if (error instanceof RemoteFullError || !isNoRoom(error)) return error;
  const space = await remoteSpace(ctx.layout.root);
  const left = space === undefined ? 'free space unknown' : `${space.free} bytes free of ${space.total}`;
  const message = `remote ${ctx.remoteId} is full (${left} at ${ctx.layout.root}): ${what} could not write; free space on the remote (delete old backups, lower the retention or grow its file system), then run it again`;
  return new RemoteFullError(message, { cause: error });
}

/**
 * Refuses when the remote would have fewer than the floor free after `bytes` more (`bytes` 0:
 * only the floor). Unknown free space (statfs failing) is not a refusal: the write itself will say.
 */
export async function checkFreeSpace(remoteId: string, root: string, floor: number, bytes: number, what: string): Promise<void> {
  const space = await remoteSpace(root);
  if (space === undefined || space.free >= floor + bytes) return;
  const need = bytes > 0 ? `${bytes} bytes more plus the floor of ${floor}` : `the floor of ${floor} bytes`;
  throw new RemoteFullError(
    `remote ${remoteId} has ${space.free} bytes free at ${root}, below ${need} (storage.limits.freeSpaceFloorBytes): ${what} refused before writing; free space on the remote or lower the floor`,
  );
}
