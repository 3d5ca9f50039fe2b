// Ctrl-C (SIGINT), SIGTERM and SIGHUP (terminal closed) ask the lab to stop — at any moment,
// not only once the story is over — so that its processes, database and streams are always
// cleaned up. Watched from the start of the lab until it has stopped; a second signal while
// stopping is absorbed (stopping is already under way).
export interface StopSignal {
  /** The signal received, if any. */
  readonly received: NodeJS.Signals | undefined;
  /** Resolves with the first signal. */
  readonly promise: Promise<NodeJS.Signals>;
  dispose(): void;
}

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

export function watchStopSignals(): StopSignal {
  let received: NodeJS.Signals | undefined;
  let resolve!: (signal: NodeJS.Signals) => void;
  const promise = new Promise<NodeJS.Signals>((r) => (resolve = r));
  const handler = (signal: NodeJS.Signals): void => {
    if (received !== undefined) return;
    received = signal;
    resolve(signal);
  };
  for (const signal of SIGNALS) process.on(signal, handler);
  return {
    get received() {
      return received;
    },
    promise,
    dispose() {
      for (const signal of SIGNALS) process.off(signal, handler);
    },
  };
}

/** The value of `work`, or 'stopped' when a stop signal comes first (`work` is left to fail quietly). */
export async function unlessStopped<T>(work: Promise<T>, stop: StopSignal): Promise<T | 'stopped'> {
  work.catch(() => undefined);
  return Promise.race([work, stop.promise.then(() => 'stopped' as const)]);
}
