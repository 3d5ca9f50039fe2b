// A read/write lock per VM over its backup chains: reads (GetDisk, verify) share it, a merge holds
// it alone from its first step to its last (docs/remote-format.md §10). Reads cannot safely run
// under a merge's block copy, not only its final renames: the copy rewrites the full's blocks in
// place (what a reader of the full's own date, opened before the merge retired it, still reads),
// its checksum table describes the old blocks until the merge ends (so verify would report
// damage), and growing the full's BAT moves blocks a reader opened earlier still points at
// (test/storage-merge-reads.test.ts shows all three without this lock).
//
// Requests are served in arrival order: once a merge waits, reads that arrive after it wait
// behind it, so a steady stream of reads cannot postpone a merge forever; the merge waits for
// the reads already running (a restore of the same VM delays its merge, never the other way).
// Lock order: the VM's lock (remote-locks.ts) before its chain lock; never take the VM's lock
// while holding a chain read lock (a merge holding the VM's lock may be waiting for that read).
interface Waiter {
  exclusive: boolean;
  grant: () => void;
}

interface ChainState {
  readers: number;
  writer: boolean;
  queue: Waiter[];
}

export class ChainLocks {
  readonly #chains = new Map<string, ChainState>();

  /** Runs `fn` sharing the VM's chain lock with other reads. */
  read<T>(vmUuid: string, fn: () => Promise<T>): Promise<T> {
    return this.#with(vmUuid, false, fn);
  }

  /** Runs `fn` alone on the VM's chains; `onWait` is told how many reads it waits for, if any. */
  write<T>(vmUuid: string, fn: () => Promise<T>, onWait?: (reads: number) => void): Promise<T> {
    return this.#with(vmUuid, true, fn, onWait);
  }

  /** Reads running on the VM's chains (for logs and tests). */
  readers(vmUuid: string): number {
    return this.#chains.get(vmUuid)?.readers ?? 0;
  }

  async #with<T>(vmUuid: string, exclusive: boolean, fn: () => Promise<T>, onWait?: (reads: number) => void): Promise<T> {
    const state = this.#chains.get(vmUuid) ?? { readers: 0, writer: false, queue: [] };
    this.#chains.set(vmUuid, state);
    if (state.queue.length === 0 && canEnter(state, exclusive)) enter(state, exclusive);
    else {
      onWait?.(state.readers);
      await new Promise<void>((grant) => state.queue.push({ exclusive, grant }));
    }
    try {
      return await fn();
    } finally {
      if (exclusive) state.writer = false;
      else state.readers--;
      this.#admit(vmUuid, state);
    }
  }

  /** Lets in waiters from the front of the queue while they can enter. */
  #admit(vmUuid: string, state: ChainState): void {
    while (state.queue.length > 0 && canEnter(state, state.queue[0]!.exclusive)) {
      const next = state.queue.shift()!;
      enter(state, next.exclusive);
      next.grant();
    }
    if (state.readers === 0 && !state.writer && state.queue.length === 0) this.#chains.delete(vmUuid);
  }
}

function canEnter(state: ChainState, exclusive: boolean): boolean {
  return exclusive ? state.readers === 0 && !state.writer : !state.writer;
}

function enter(state: ChainState, exclusive: boolean): void {
  if (exclusive) state.writer = true;
  else state.readers++;
}
