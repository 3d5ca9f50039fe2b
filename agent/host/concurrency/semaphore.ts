// A counting semaphore: at most `limit` holders at once, waiters served in arrival order. Used
// for the agent's concurrency limits (VMs at once, disks per VM, XAPI calls in flight).

export class Semaphore {
  private available: number;
  private readonly waiters: Array<() => void> = [];

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`semaphore limit must be a positive integer, got ${limit}`);
    this.available = limit;
  }

  /** Holders right now. */
  get inUse(): number {
    return this.limit - this.available;
  }

  async acquire(): Promise<() => void> {
    if (this.available > 0) {
      this.available--;
    } else {
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.release();
    };
  }

  async run<T>(operation: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await operation();
    } finally {
      release();
    }
  }

  private release(): void {
    const next = this.waiters.shift();
    if (next !== undefined) next();
    else this.available++;
  }
}

/** Runs `worker` over `items` with at most `limit` in flight. After the first failure no new
 * worker starts; it rejects with that failure once every started worker has settled, so no work
 * is left running behind the caller. */
export async function mapWithLimit<T, R>(items: readonly T[], limit: number, worker: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const semaphore = new Semaphore(limit);
  let firstFailure: { error: unknown } | undefined;
  const results = await Promise.allSettled(
    items.map((item, index) =>
      semaphore.run(async () => {
        if (firstFailure !== undefined) throw firstFailure.error;
        try {
          return await worker(item, index);
        } catch (error) {
          firstFailure ??= { error };
          throw error;
        }
      }),
    ),
  );
  if (firstFailure !== undefined) throw firstFailure.error;
  return results.map((result) => (result as PromiseFulfilledResult<R>).value);
}

/** An item's end in settleWithLimit: its value, its error, or `undefined` when an earlier failure stopped it before it started. */
export type Settled<R> = { ok: true; value: R } | { ok: false; error: unknown } | undefined;

/**
 * As mapWithLimit, but never throws: after a failure no further item starts, those under way
 * finish, and each item's end is returned (so a caller can keep what succeeded and redo the rest).
 */
export async function settleWithLimit<T, R>(items: readonly T[], limit: number, worker: (item: T, index: number) => Promise<R>): Promise<Settled<R>[]> {
  const semaphore = new Semaphore(limit);
  let failed = false;
  return Promise.all(
    items.map((item, index) =>
      semaphore.run(async (): Promise<Settled<R>> => {
        if (failed) return undefined;
        try {
          return { ok: true, value: await worker(item, index) };
        } catch (error) {
          failed = true;
          return { ok: false, error };
        }
      }),
    ),
  );
}
