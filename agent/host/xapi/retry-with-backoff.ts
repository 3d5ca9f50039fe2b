// Retries an operation that failed with a transient error, waiting an exponentially growing,
// jittered delay between attempts ("full jitter": a random delay in [0, min(max, base·2^n)]).
// The delay computation is pure; the clock (sleep) and randomness are parameters for tests.

export interface RetryOptions {
  /** Attempts in total, including the first (1 = no retry). */
  tries: number;
  /** Delay cap of the first retry, in milliseconds; doubles each retry. */
  baseDelayMs: number;
  /** Upper bound of any delay, in milliseconds. */
  maxDelayMs: number;
}

export interface RetryHooks {
  /** Decides whether an error is worth another attempt. */
  isTransient: (error: unknown) => boolean;
  /** Called before each wait with the attempt number that failed (1-based) and the delay. */
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export const DEFAULT_RETRY: Readonly<RetryOptions> = Object.freeze({ tries: 5, baseDelayMs: 500, maxDelayMs: 15_000 });

/** The delay before retry number `retry` (0-based): full jitter over an exponential cap. */
export function backoffDelay(retry: number, options: RetryOptions, random: () => number = Math.random): number {
  const cap = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** Math.min(retry, 30));
  return Math.floor(cap * random());
}

export async function retryWithBackoff<T>(operation: (attempt: number) => Promise<T>, options: RetryOptions, hooks: RetryHooks): Promise<T> {
  const sleep = hooks.sleep ?? defaultSleep;
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation(attempt);
    } catch (error) {
      if (attempt >= options.tries || !hooks.isTransient(error)) throw error;
      const delay = backoffDelay(attempt - 1, options, hooks.random);
      hooks.onRetry?.(error, attempt, delay);
      await sleep(delay);
    }
  }
}

function defaultSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
