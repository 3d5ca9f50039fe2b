// Retry delays: exponential from a base, capped, with jitter so that tasks failing together do
// not come back together. The random draw is a parameter (0..1) so tests pin it.

export interface BackoffOptions {
  /** Delay before the second attempt, milliseconds. */
  baseMs: number;
  /** Longest delay, milliseconds. */
  maxMs: number;
  /** Fraction of the delay that is random: 0 = none, 0.5 = delay × [0.75, 1.25). */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 30_000, maxMs: 30 * 60_000, jitter: 0.5 };

/** The delay after attempt number `attempt` (1 = the first attempt) failed. */
export function backoffDelay(attempt: number, options: BackoffOptions = DEFAULT_BACKOFF, random = 0.5): number {
  const exponent = Math.min(Math.max(attempt - 1, 0), 30);
  const plain = Math.min(options.baseMs * 2 ** exponent, options.maxMs);
  const factor = 1 + options.jitter * (random - 0.5);
  return Math.round(Math.min(plain * factor, options.maxMs));
}
