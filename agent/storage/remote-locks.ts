// In-process locks over a remote: operations that change one VM's files (commit, merge, delete,
// the final rename of a received disk) run one at a time per VM; a scan runs alone over the
// whole remote. `withAll` closes a gate so new VM operations wait, then waits for the running
// ones to end. One storage agent serves a remote, so in-process locks are enough. `chains` is the
// per-VM read/write lock that keeps reads and merges of a VM's chains apart (chain-locks.ts).
import { ChainLocks } from './chain-locks.js';

export class RemoteLocks {
  readonly chains = new ChainLocks();
  #tails = new Map<string, Promise<void>>();
  #holders = new Set<Promise<void>>();
  #gate: Promise<void> = Promise.resolve();

  async withVm<T>(vmUuid: string, fn: () => Promise<T>): Promise<T> {
    for (;;) {
      const gate = this.#gate;
      await gate;
      if (gate === this.#gate) break;
    }
    let release!: () => void;
    const done = new Promise<void>((resolve) => (release = resolve));
    this.#holders.add(done);
    const previous = this.#tails.get(vmUuid) ?? Promise.resolve();
    const tail = previous.then(() => done);
    this.#tails.set(vmUuid, tail);
    try {
      await previous;
      return await fn();
    } finally {
      release();
      this.#holders.delete(done);
      if (this.#tails.get(vmUuid) === tail) this.#tails.delete(vmUuid);
    }
  }

  async withAll<T>(fn: () => Promise<T>): Promise<T> {
    const previousGate = this.#gate;
    let open!: () => void;
    this.#gate = previousGate.then(() => new Promise<void>((resolve) => (open = resolve)));
    await previousGate;
    await Promise.all([...this.#holders]);
    try {
      return await fn();
    } finally {
      open();
    }
  }
}
