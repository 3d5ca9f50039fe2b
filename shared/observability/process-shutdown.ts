// How a process shell waits for its end: the first SIGTERM or SIGINT starts a clean stop; a
// second one gives up on it and exits at once. After a clean stop the process should end by
// itself; if work handed back to the queue still holds the event loop (a transfer's socket, a
// merge's file), `exitAfterStop` ends the process after a short delay instead of hanging until
// the service manager kills it. Used by process shells only; library code never exits.
const SIGNAL_EXIT_CODES: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

/** Resolves with the first SIGTERM or SIGINT; a second one exits the process immediately. */
export function waitForShutdownSignal(onSecond: (signal: NodeJS.Signals) => void = defaultSecondSignal): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let received = false;
    const listener = (signal: NodeJS.Signals): void => {
      if (received) return onSecond(signal);
      received = true;
      resolve(signal);
    };
    process.on('SIGTERM', listener);
    process.on('SIGINT', listener);
  });
}

/** After a clean stop: exit with the current exit code if the event loop is still busy after `ms`. */
export function exitAfterStop(ms = 3000): void {
  setTimeout(() => process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0), ms).unref();
}

function defaultSecondSignal(signal: NodeJS.Signals): void {
  process.stderr.write(`deltachain: second ${signal}, exiting without finishing the stop\n`);
  process.exit(SIGNAL_EXIT_CODES[signal] ?? 1);
}
