// The disks being received right now: one upload per disk of a backup at a time, and which
// temporaries belong to live uploads (a scan or DiscardBackup leaves them alone).
// A sender that sends a disk again right after abandoning an upload (a host agent whose export
// broke) may arrive before this side has noticed the cancel of the first stream: a claim waits a
// little for the earlier upload of the same disk to end before refusing, and the refusal says
// "try again" (ABORTED, retryable).
import { StorageBusyError } from './errors.js';

/** How long a claim waits for an earlier upload of the same disk to end, ms. */
export const CLAIM_WAIT_MS = 10_000;

interface Live {
  temporary: string | undefined;
  ended: Promise<void>;
  end: () => void;
}

export class ActiveUploads {
  readonly #byKey = new Map<string, Live>();

  constructor(private readonly waitMs = CLAIM_WAIT_MS) {}

  /** Claims (vm, disk, backup), waiting for an earlier upload of it to end; throws when it does not. Returns a release function. */
  async claim(vmUuid: string, diskKey: string, backupId: string): Promise<{ release: () => void; setTemporary: (path: string) => void }> {
    const key = `${vmUuid}/${diskKey}/${backupId}`;
    const deadline = Date.now() + this.waitMs;
    for (let live = this.#byKey.get(key); live !== undefined; live = this.#byKey.get(key)) {
      const left = deadline - Date.now();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timedOut = await Promise.race([live.ended.then(() => false), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), Math.max(0, left))))]);
      clearTimeout(timer);
      if (timedOut) {
        throw new StorageBusyError(`disk ${diskKey} of backup ${backupId} (VM ${vmUuid}) is still being received by an earlier upload; try again once it has ended`);
      }
    }
    let end!: () => void;
    const ended = new Promise<void>((resolve) => (end = resolve));
    const entry: Live = { temporary: undefined, ended, end };
    this.#byKey.set(key, entry);
    return {
      release: () => {
        if (this.#byKey.get(key) === entry) this.#byKey.delete(key);
        entry.end();
      },
      setTemporary: (path) => void (entry.temporary = path),
    };
  }

  /** Whether that disk of that backup is being received (from its header on, before its temporary exists). */
  isLive(vmUuid: string, diskKey: string, backupId: string): boolean {
    return this.#byKey.has(`${vmUuid}/${diskKey}/${backupId}`);
  }

  get count(): number {
    return this.#byKey.size;
  }

  temporaries(): Set<string> {
    return new Set([...this.#byKey.values()].map((live) => live.temporary).filter((p): p is string => p !== undefined));
  }
}
