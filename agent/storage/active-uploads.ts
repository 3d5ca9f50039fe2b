// The disks being received right now: refuses a second concurrent upload of the same disk, and
// tells a scan or DiscardBackup which temporaries belong to live uploads (they are not garbage).
import { StorageConflictError } from './errors.js';

export class ActiveUploads {
  readonly #byKey = new Map<string, string | undefined>();

  /** Claims (vm, disk, backup); throws when it is already being received. Returns a release function. */
  claim(vmUuid: string, diskKey: string, backupId: string): { release: () => void; setTemporary: (path: string) => void } {
    const key = `${vmUuid}/${diskKey}/${backupId}`;
    if (this.#byKey.has(key)) {
      throw new StorageConflictError(`disk ${diskKey} of backup ${backupId} (VM ${vmUuid}) is already being received; wait for that upload to end`);
    }
    this.#byKey.set(key, undefined);
    return {
      release: () => void this.#byKey.delete(key),
      setTemporary: (path) => void this.#byKey.set(key, path),
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
    return new Set([...this.#byKey.values()].filter((p): p is string => p !== undefined));
  }
}
