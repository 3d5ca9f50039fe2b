// What one storage agent spends on uploads, bounded whatever its callers send: concurrent
// uploads per caller (by certificate identity; by address when the agent runs insecure), an idle
// deadline on every stream (no message for `idleSeconds` cancels it and removes what it wrote),
// and a free-space floor checked before an upload creates anything and again as it grows
// (checkFreeSpace, remote-full.ts).
// `maxConcurrentStreams` is handed to the HTTP/2 server (storage-server.ts).
import { StorageLimitError } from './errors.js';

export interface UploadLimits {
  /** HTTP/2 streams (calls) at once per connection. */
  maxConcurrentStreams: number;
  /** PutDisk streams at once per caller identity. */
  uploadsPerPeer: number;
  /** Seconds a stream may go without a message before it is cancelled. */
  idleSeconds: number;
  /** Bytes the remote's file system keeps free: uploads are refused (and stopped) below it. */
  freeSpaceFloorBytes: number;
}

export const DEFAULT_UPLOAD_LIMITS: UploadLimits = Object.freeze({
  maxConcurrentStreams: 32,
  uploadsPerPeer: 4,
  idleSeconds: 120,
  freeSpaceFloorBytes: 1024 * 1024 * 1024,
});

/** Counts live uploads per caller; `claim` refuses past the limit. */
export class PeerUploads {
  readonly #live = new Map<string, number>();
  readonly #limit: number;

  constructor(limit: number) {
    this.#limit = limit;
  }

  claim(peer: string): () => void {
    const now = this.#live.get(peer) ?? 0;
    if (now >= this.#limit) {
      throw new StorageLimitError(`${peer} already has ${now} uploads running, the limit per caller (storage.limits.uploadsPerPeer); wait for one to finish`);
    }
    this.#live.set(peer, now + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#live.get(peer) ?? 1) - 1;
      if (left <= 0) this.#live.delete(peer);
      else this.#live.set(peer, left);
    };
  }
}

/** Calls `onIdle` when `touch` has not been called for `seconds`; `stop` ends the watch. */
export function idleDeadline(seconds: number, onIdle: () => void): { touch(): void; stop(): void } {
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    clearTimeout(timer);
    timer = setTimeout(onIdle, seconds * 1000);
    timer.unref();
  };
  arm();
  return { touch: arm, stop: () => clearTimeout(timer) };
}
